"""The live inventory at vCenter's maximums: full sync against the naive walk, change-to-visible
latency through the watcher, and the wizard's steps, on three simulated vCenters side by side.

Models (simulators/vcsim flags on top of the VIO inventory of 4 clusters and 11 hosts):
  default  the VIO inventory only
  5k       +20 clusters x 16 hosts, 5,000 VMs, 200 port groups, 50 shared datastores
  max      +40 clusters x 63 hosts (2,531 hosts), 40,000 VMs, 400 port groups, 300 shared datastores
For each, in this one process:
  - full sync: inventory.services.sync.sync_vcenter (read + store), cold (first, every row inserted)
    and warm (again, nothing changed), with vCenter's share (the simulator's time to make its
    answers, which its harness sends whole) apart from ours, its SOAP round trips, and this
    process's peak RSS;
  - naive: the same properties read attribute by attribute (pyvmomi's usual style). On a large
    model it is measured on a sample of every type (all non-VM objects up to --naive-sample, VMs up
    to --naive-sample) and extrapolated by type to the whole inventory (said so in the output);
  - live updates: the watcher (inventory.services.watcher, as `manage.py watch_inventory` runs it)
    keeps the picture; a VM is renamed through pyvmomi and the API is polled until it shows the
    change. Per change: total (pyvmomi call to the API showing it), vCenter's share (the
    call to the watcher receiving the update: the simulator re-collects its whole filter on each
    change and batches on a 250 ms tick) and ours (the update received to the API showing it);
  - the wizard's steps (GET and POST of each, DVS path, benchmarks/wizard_steps.py's walk), p95.

The benchmark runs in a world of its own (benchmarks/_common.prepare: a database, keys and a data
directory made for this run and removed at its end), so it can run again and again.

Run: .venv/bin/python benchmarks/live_inventory.py [--models default,5k,max] [--changes 20] [--quick]
(PostgreSQL database bench_live_<pid> next to DATABASE_URL's when set, else SQLite in a temp dir).
--quick: the default model and a small one (+4 clusters x 4 hosts, 500 VMs), 5 changes, 1 walk:
what CI runs. Ends with one line for the largest model measured:
full_sync_s=<n> speedup=<x> peak_rss_mb=<n> update_p95_ms=<n> wizard_p95_ms=<n>
"""

import argparse
import http.client
import os
import random
import resource
import signal
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import p95, prepare  # noqa: E402

MODELS = {
    "default": (),
    "5k": ("-clusters", "20", "-hosts", "16", "-vms", "5000", "-portgroups", "197", "-datastores", "48"),
    "max": ("-clusters", "40", "-hosts", "63", "-vms", "40000", "-portgroups", "397", "-datastores", "298"),
    "small": ("-clusters", "4", "-hosts", "4", "-vms", "500", "-portgroups", "37", "-datastores", "8"),
}


class RoundTrips:
    """Counts HTTP requests sent by this process (every SOAP call is one), and the time the server
    took to answer them (request sent to the answer's headers: the simulator's harness buffers each
    SOAP answer whole, so this is its time to make the answer); per thread, so the watcher's long
    polls are not charged to a sync."""

    def __init__(self):
        self.counts: dict[int, int] = {}
        self.server: dict[int, float] = {}
        request, getresponse = http.client.HTTPConnection.request, http.client.HTTPConnection.getresponse
        counter = self

        def counting(conn, *args, **kwargs):
            ident = threading.get_ident()
            counter.counts[ident] = counter.counts.get(ident, 0) + 1
            conn._bench_sent = time.monotonic()
            return request(conn, *args, **kwargs)

        def timed(conn, *args, **kwargs):
            response = getresponse(conn, *args, **kwargs)
            sent = getattr(conn, "_bench_sent", None)
            if sent is not None:
                ident = threading.get_ident()
                counter.server[ident] = counter.server.get(ident, 0.0) + time.monotonic() - sent
            return response

        http.client.HTTPConnection.request = counting
        http.client.HTTPConnection.getresponse = timed

    def take(self) -> int:
        ident = threading.get_ident()
        value = self.counts.get(ident, 0)
        self.counts[ident] = 0
        return value

    def server_seconds(self) -> float:
        """The server's time on this thread's calls since the last call of this."""
        ident = threading.get_ident()
        value = self.server.get(ident, 0.0)
        self.server[ident] = 0.0
        return value


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the naive walk ----------------------------------------------------------------------------

VM_ATTRIBUTES = ("name", "parent", "resourcePool", "runtime.host", "runtime.powerState", "runtime.connectionState",
                 "guest.toolsRunningStatus", "guest.ipAddress", "guest.net", "config.extraConfig", "customValue",
                 "config.template", "config.hardware.numCPU", "config.hardware.memoryMB")


def _path(obj, dotted: str):
    for part in dotted.split("."):
        obj = getattr(obj, part)
        if obj is None:
            return None
    return obj


def naive_object(entity) -> None:
    """Every property the sync stores for this object, read attribute by attribute (a round trip each)."""
    from pyVmomi import vim

    entity.name
    entity.parent
    if isinstance(entity, vim.VirtualMachine):
        for attribute in VM_ATTRIBUTES:
            _path(entity, attribute)
    elif isinstance(entity, vim.Folder):
        entity.childType
    elif isinstance(entity, vim.ClusterComputeResource):
        entity.summary.numCpuCores
        entity.configurationEx.rule
        entity.resourcePool
    elif isinstance(entity, vim.HostSystem):
        entity.runtime.connectionState
        entity.runtime.powerState
        entity.runtime.inMaintenanceMode
        entity.summary.hardware.numCpuCores
        entity.summary.quickStats.overallCpuUsage
        entity.summary.config.product.version
        [pg.spec.vlanId for pg in entity.config.network.portgroup]
        [ds._moId for ds in entity.datastore]
    elif isinstance(entity, vim.ResourcePool):
        entity.owner
    elif isinstance(entity, vim.Datastore):
        entity.summary.capacity
    elif isinstance(entity, vim.dvs.DistributedVirtualPortgroup):
        entity.config.defaultPortConfig
        entity.config.distributedVirtualSwitch
    elif isinstance(entity, vim.DistributedVirtualSwitch):
        entity.uuid
        entity.config.maxMtu
        entity.summary.hostMember


def naive_walk(si, wire: RoundTrips, sample: int) -> dict:
    """The naive read: every object's properties by attribute access. With more than `sample` objects
    of a kind (VMs, hosts, datastores…), `sample` of them are walked and the kind is extrapolated."""
    from pyVmomi import vim

    from inventory.clients.vsphere import collect

    kinds = [vim.Datacenter, vim.Folder, vim.ClusterComputeResource, vim.HostSystem, vim.Datastore,
             vim.Network, vim.DistributedVirtualSwitch, vim.ResourcePool, vim.VirtualMachine]
    seen: set = set()
    total = {"seconds": 0.0, "round_trips": 0, "objects": 0, "walked": 0, "extrapolated": False}
    randomness = random.Random(7)
    for kind in kinds:
        objects = [row["_obj"] for row in collect(si, kind, ["name"]) if row["_obj"]._moId not in seen]
        seen.update(obj._moId for obj in objects)
        wire.take()
        chosen = objects if len(objects) <= sample else randomness.sample(objects, sample)
        started = time.monotonic()
        for entity in chosen:
            naive_object(entity)
        seconds, trips = time.monotonic() - started, wire.take()
        scale = len(objects) / len(chosen) if chosen else 0
        total["seconds"] += seconds * scale
        total["round_trips"] += round(trips * scale)
        total["objects"] += len(objects)
        total["walked"] += len(chosen)
        total["extrapolated"] |= len(chosen) < len(objects)
    return total


# --- live updates ------------------------------------------------------------------------------

class Answers:
    """When the watcher received each answer that carried changes (wraps InventoryWatch.next)."""

    def __init__(self):
        from inventory.clients import vsphere_watch

        self.times: list[float] = []
        original = vsphere_watch.InventoryWatch.next
        answers = self

        def next_recorded(watch, max_wait_seconds):
            changes = original(watch, max_wait_seconds)
            if changes:
                answers.times.append(time.monotonic())
            return changes

        vsphere_watch.InventoryWatch.next = next_recorded


def live_updates(simulator, vcenter, client, answers: Answers, changes: int) -> dict:
    from pyVmomi import vim

    from inventory import models as m
    from inventory.clients.vsphere import collect, connect, disconnect
    from inventory.services.watcher import Supervisor

    stop = threading.Event()
    supervisor = Supervisor([vcenter.pk])
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    started = time.monotonic()
    thread.start()
    deadline = started + 600
    while not m.InventoryWatch.objects.filter(pk=vcenter.pk, state="live").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the watcher did not become live in 10 minutes")
        time.sleep(0.05)
    live_s = time.monotonic() - started
    si = connect(simulator.host, simulator.port, simulator.username, simulator.password, simulator.fingerprint)
    totals, vcenter_share, ours = [], [], []
    try:
        # A rename: what every VM (and a template, the only VM of the default model) can take.
        candidates = collect(si, vim.VirtualMachine, ["name"])
        picked = random.Random(11).sample(candidates, min(changes, len(candidates)))
        url = f"/api/v1/vcenters/{vcenter.pk}/inventory/vms/"
        for n in range(changes):
            vm = picked[n % len(picked)]["_obj"]
            name = f"bench-renamed-{n:03d}"
            before = len(answers.times)
            t0 = time.monotonic()
            vm.Rename_Task(name)
            while True:
                results = client.get(url, {"name": name}).json()["results"]
                if any(r["moid"] == vm._moId for r in results):
                    break
                if time.monotonic() - t0 > 120:
                    raise RuntimeError(f"{vm._moId} did not show as {name} within 120 s")
                time.sleep(0.01)
            t_visible = time.monotonic()
            answer = next((t for t in answers.times[before:] if t >= t0), t_visible)
            totals.append((t_visible - t0) * 1000)
            vcenter_share.append((answer - t0) * 1000)
            ours.append((t_visible - answer) * 1000)
    finally:
        disconnect(si)
        stop.set()
        thread.join(60)
    return {"live_s": live_s, "total": totals, "vcenter": vcenter_share, "ours": ours}


# --- the wizard ---------------------------------------------------------------------------------

def wizard_walks(simulator, vcenter, label: str, runs: int) -> dict:
    """benchmarks/wizard_steps.py's walk of the DVS path, on this (already synced) vCenter."""
    from benchmarks.wizard_steps import signed_in_client, walk

    samples = walk(signed_in_client(), simulator, vcenter, label, runs, {})
    samples.pop("done", None)  # the page a walk lands on is the deployment's, not a step of the wizard
    return samples


# --- one model ----------------------------------------------------------------------------------

def measure_model(label: str, args: tuple, options, wire: RoundTrips, answers: Answers) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from inventory import models as m
    from inventory.clients.vsphere import connect, disconnect
    from inventory.services import endpoints, sync
    from simulators.launcher import start_vcsim

    started = time.monotonic()
    simulator = start_vcsim(*args, timeout=3600)
    result = {"label": label, "simulator_s": time.monotonic() - started, "inventory": simulator.inventory}
    print(f"[{label}] simulator {' '.join(args) or '(default)'}: {simulator.inventory} ready in {result['simulator_s']:.1f} s",
          flush=True)
    try:
        vcenter = endpoints.register(m.VCenter, name=f"bench-{label}", host=simulator.host, port=simulator.port,
                                     username=simulator.username, password=simulator.password)
        vcenter = endpoints.accept_certificate(vcenter, simulator.fingerprint)
        m.VCenter.objects.filter(pk=vcenter.pk).update(sync_state="idle")
        wire.take(), wire.server_seconds()
        rss_before = rss_mb()
        started = time.monotonic()
        cold = sync.sync_vcenter(vcenter.pk)
        result["cold_s"], result["cold_trips"] = time.monotonic() - started, wire.take()
        result["cold_server_s"] = wire.server_seconds()
        assert cold.ok, cold.error
        started = time.monotonic()
        warm = sync.sync_vcenter(vcenter.pk)
        result["warm_s"], result["warm_trips"] = time.monotonic() - started, wire.take()
        result["warm_server_s"] = wire.server_seconds()
        assert warm.ok, warm.error
        result["counts"] = cold.counts
        result["rss_mb"], result["rss_before_mb"] = rss_mb(), rss_before
        print(f"[{label}] full sync cold {result['cold_s']:.2f} s, warm {result['warm_s']:.2f} s, "
              f"{result['cold_trips']} round trips, peak RSS {result['rss_mb']:.0f} MB", flush=True)

        si = connect(simulator.host, simulator.port, simulator.username, simulator.password, simulator.fingerprint)
        wire.take()
        result["naive"] = naive_walk(si, wire, options.naive_sample)
        disconnect(si)
        print(f"[{label}] naive walk {result['naive']['seconds']:.1f} s "
              f"({'extrapolated from ' + str(result['naive']['walked']) + ' of ' if result['naive']['extrapolated'] else ''}"
              f"{result['naive']['objects']} objects)", flush=True)

        user, _ = get_user_model().objects.get_or_create(username="bench-api", defaults={"is_superuser": True})
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        result["updates"] = live_updates(simulator, vcenter, client, answers, options.changes)
        print(f"[{label}] watcher live after {result['updates']['live_s']:.1f} s; update p95 "
              f"{p95(result['updates']['total']):.0f} ms", flush=True)

        walks = wizard_walks(simulator, vcenter, label, options.walks)
        result["wizard_p95_ms"] = max(p95(sample["ms"]) for sample in walks.values())
        result["wizard_slowest"] = max(walks, key=lambda key: p95(walks[key]["ms"]))
        m.VCenter.objects.filter(pk=vcenter.pk).delete()
    finally:
        simulator.stop(timeout=60)
    return result


def report(results: list[dict], database: str) -> None:
    print()
    print(f"{database}; every figure measured in this process")
    columns = [r["label"] for r in results]
    width = 14

    def row(name: str, values: list[str]) -> None:
        print(f"{name:38}" + "".join(f"{v:>{width}}" for v in values))

    row("", columns)
    row("hosts / VMs", [f"{r['counts']['hosts']}/{r['counts']['vms']}" for r in results])
    row("simulator start (s)", [f"{r['simulator_s']:.1f}" for r in results])
    row("full sync, cold: first, inserts (s)", [f"{r['cold_s']:.2f}" for r in results])
    row("full sync, warm: nothing changed (s)", [f"{r['warm_s']:.2f}" for r in results])
    row("  of it vCenter's (simulator), cold (s)", [f"{r['cold_server_s']:.2f}" for r in results])
    row("  of it ours, cold (s)", [f"{r['cold_s'] - r['cold_server_s']:.2f}" for r in results])
    row("  of it vCenter's (simulator), warm (s)", [f"{r['warm_server_s']:.2f}" for r in results])
    row("full sync round trips", [str(r["cold_trips"]) for r in results])
    row("naive attribute walk (s)", [f"{r['naive']['seconds']:.1f}{'*' if r['naive']['extrapolated'] else ''}" for r in results])
    row("naive round trips", [f"{r['naive']['round_trips']}{'*' if r['naive']['extrapolated'] else ''}" for r in results])
    row("speedup vs naive, cold", [f"{r['naive']['seconds'] / r['cold_s']:.0f}x" for r in results])
    row("speedup vs naive, warm", [f"{r['naive']['seconds'] / r['warm_s']:.0f}x" for r in results])
    row("round trips ratio", [f"{r['naive']['round_trips'] / max(r['cold_trips'], 1):.0f}x" for r in results])
    row("peak RSS after the syncs (MB)", [f"{r['rss_mb']:.0f}" for r in results])
    row("watcher live after start (s)", [f"{r['updates']['live_s']:.1f}" for r in results])
    row("update p95: change to API (ms)", [f"{p95(r['updates']['total']):.0f}" for r in results])
    row("  of it vCenter's (simulator) p95 (ms)", [f"{p95(r['updates']['vcenter']):.0f}" for r in results])
    row("  of it ours p95 (ms)", [f"{p95(r['updates']['ours']):.0f}" for r in results])
    row("update median (ms)", [f"{statistics.median(r['updates']['total']):.0f}" for r in results])
    row("changes measured", [str(len(r["updates"]["total"])) for r in results])
    row("wizard slowest step p95 (ms)", [f"{r['wizard_p95_ms']:.1f}" for r in results])
    row("wizard slowest step", [r["wizard_slowest"][:width - 1] for r in results])
    if any(r["naive"]["extrapolated"] for r in results):
        print("* extrapolated by kind from a sample of each kind (see --naive-sample)")
    last = results[-1]
    print(f"full_sync_s={last['cold_s']:.2f} speedup={last['naive']['seconds'] / last['cold_s']:.1f} "
          f"peak_rss_mb={last['rss_mb']:.0f} update_p95_ms={p95(last['updates']['total']):.0f} "
          f"wizard_p95_ms={last['wizard_p95_ms']:.1f}")


def interrupted(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends like Ctrl-C: the simulator stopped, the database dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="default,5k,max", help="comma-separated: " + ", ".join(MODELS))
    parser.add_argument("--changes", type=int, default=20, help="VM renames timed per model")
    parser.add_argument("--walks", type=int, default=3, help="wizard walks per model")
    parser.add_argument("--naive-sample", type=int, default=400, help="objects of each kind walked naively at most")
    parser.add_argument("--quick", action="store_true", help="default and small models, 5 changes, 1 walk (CI)")
    options = parser.parse_args()
    if options.quick:
        options.models, options.changes, options.walks = "default,small", 5, 1
    labels = options.models.split(",")
    unknown = [label for label in labels if label not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    signal.signal(signal.SIGTERM, interrupted)
    env = prepare("bench_live")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ.setdefault("VIO_OVA_ALLOWED_NETWORKS", "127.0.0.0/8")
    # The watcher as production runs it, with a long poll short enough for a benchmark to end promptly.
    os.environ.setdefault("VIO_WATCH_POLL_SECONDS", "2")
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        from django.test.utils import setup_test_environment

        setup_test_environment()  # the test client records each response's context (the wizard's walk reads it)
        wire, answers = RoundTrips(), Answers()
        results = [measure_model(label, MODELS[label], options, wire, answers) for label in labels]
        report(results, env.database)
    finally:
        from django.db import connections

        connections.close_all()
        env.cleanup()


if __name__ == "__main__":
    main()
