"""Inventory sync of a large simulated vCenter, side by side with a naive pyvmomi walk.

Starts the vCenter simulator with 20 extra clusters of 16 hosts, 5,000 VMs, 200 distributed port
groups and 50 shared datastores (on top of the VIO inventory: 4 clusters, 11 hosts, and a local
datastore per host), then measures in this one process:
  - sync: inventory.services.sync.sync_vcenter (read + store in the database), cold (new session,
    login included) and warm (the worker's kept session);
  - naive: the same properties read by attribute access, object by object (pyvmomi's usual style);
  - SOAP round trips of each (HTTP requests on the wire), peak RSS after the syncs;
  - the inventory page's render time at that size (median of 5, Django test client).

The benchmark runs in a world of its own (benchmarks/_common.prepare: a database, keys and a data
directory made for this run and removed at its end), so it can run again and again.

Run: .venv/bin/python benchmarks/inventory_sync.py [--quick]   (PostgreSQL database
bench_inventory_<pid> next to DATABASE_URL's when set, else SQLite in a temp dir). --quick: +4
clusters x 4 hosts, 500 VMs, 40 port groups, 10 datastores, one warm sync and one page render:
what CI runs. Ends with: speedup=<x> round_trips=<n> peak_rss_mb=<n> sync_s=<s> naive_s=<s>
"""

import argparse
import http.client
import os
import resource
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import prepare  # noqa: E402

SCALE = ("-clusters", "20", "-hosts", "16", "-vms", "5000", "-portgroups", "197", "-datastores", "48")
SCALE_QUICK = ("-clusters", "4", "-hosts", "4", "-vms", "500", "-portgroups", "37", "-datastores", "8")


class RoundTrips:
    """Counts HTTP requests sent (every SOAP call is one)."""

    def __init__(self):
        self.count = 0
        self._original = http.client.HTTPConnection.request
        counter = self

        def counting(conn, *args, **kwargs):
            counter.count += 1
            return counter._original(conn, *args, **kwargs)

        http.client.HTTPConnection.request = counting

    def take(self) -> int:
        value, self.count = self.count, 0
        return value


def naive_walk(si) -> int:
    """Every property the sync stores, read attribute by attribute (one round trip each)."""
    from pyVmomi import vim

    objects = 0
    content = si.RetrieveContent()
    stack = list(content.rootFolder.childEntity)
    while stack:
        entity = stack.pop()
        objects += 1
        entity.name
        if isinstance(entity, vim.Folder):
            entity.childType
            stack.extend(entity.childEntity)
        elif isinstance(entity, vim.Datacenter):
            stack.extend([entity.hostFolder, entity.networkFolder, entity.datastoreFolder, entity.vmFolder])
        elif isinstance(entity, vim.ClusterComputeResource):
            entity.summary.numCpuCores
            entity.configurationEx.dasConfig
            pool = entity.resourcePool
            stack.append(pool)
            for host in entity.host:
                objects += 1
                host.name
                host.runtime.connectionState
                host.summary.hardware.numCpuCores
                host.summary.quickStats.overallCpuUsage
                host.summary.config.product.version
                [pg.spec.vlanId for pg in host.config.network.portgroup]
                [ds._moId for ds in host.datastore]
        elif isinstance(entity, vim.ResourcePool):
            entity.owner
            stack.extend(entity.resourcePool)
        elif isinstance(entity, vim.Datastore):
            entity.summary.capacity
        elif isinstance(entity, vim.dvs.DistributedVirtualPortgroup):
            entity.config.defaultPortConfig
        elif isinstance(entity, vim.DistributedVirtualSwitch):
            entity.uuid
            entity.config.maxMtu
            entity.summary.hostMember
        elif isinstance(entity, vim.VirtualMachine):
            entity.config.template
    return objects


def interrupted(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends like Ctrl-C: the simulator stopped, the database dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller inventory, one warm sync, one page render")
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, interrupted)
    env = prepare("bench_inventory")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    try:
        measure(SCALE_QUICK if options.quick else SCALE, warm=1 if options.quick else 3,
                renders=1 if options.quick else 5, database=env.database)
    finally:
        from django.db import connections

        connections.close_all()
        env.cleanup()


def measure(scale: tuple, warm: int, renders: int, database: str) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from inventory import models as m
    from inventory.clients.vsphere import connect, disconnect
    from inventory.services import endpoints, sync
    from simulators.launcher import start_vcsim

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    print(f"{database}; simulator flags: {' '.join(scale)}")
    started = time.monotonic()
    simulator = start_vcsim(*scale)
    print(f"simulator: {simulator.inventory} ready in {time.monotonic() - started:.1f} s")
    try:
        vcenter = endpoints.register(m.VCenter, name="bench", host=simulator.host, port=simulator.port,
                                     username=simulator.username, password=simulator.password)
        vcenter = endpoints.accept_certificate(vcenter, simulator.fingerprint)
        wire = RoundTrips()

        started = time.monotonic()
        cold = sync.sync_vcenter(vcenter.pk)
        cold_s, cold_trips = time.monotonic() - started, wire.take()
        warm_runs = []
        for _ in range(warm):
            started = time.monotonic()
            record = sync.sync_vcenter(vcenter.pk)
            warm_runs.append((time.monotonic() - started, wire.take(), record))
        assert cold.ok and all(r[2].ok for r in warm_runs), "a sync failed"
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sync_s = statistics.median(r[0] for r in warm_runs)
        warm_trips = max(r[1] for r in warm_runs)

        user = get_user_model().objects.create_superuser("bench", password="bench-password-123")
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        render_times = []
        for _ in range(renders):
            started = time.monotonic()
            response = client.get(f"/vcenters/{vcenter.pk}/inventory/")
            render_times.append(time.monotonic() - started)
            assert response.status_code == 200
        page_ms = statistics.median(render_times) * 1000

        si = connect(simulator.host, simulator.port, simulator.username, simulator.password, simulator.fingerprint)
        wire.take()
        started = time.monotonic()
        walked = naive_walk(si)
        naive_s, naive_trips = time.monotonic() - started, wire.take()
        disconnect(si)
    finally:
        simulator.stop()

    counts = cold.counts
    print(f"stored: {counts}")
    print(f"{'':34} {'seconds':>9} {'round trips':>12}")
    print(f"{'sync, cold (login included)':34} {cold_s:9.3f} {cold_trips:12d}")
    print(f"{f'sync, warm session (median of {warm})':34} {sync_s:9.3f} {warm_trips:12d}")
    print(f"{'naive attribute walk (read only)':34} {naive_s:9.3f} {naive_trips:12d}   ({walked} objects)")
    print(f"sync vs naive: {naive_s / sync_s:.1f}x faster warm, {naive_s / cold_s:.1f}x cold; "
          f"round trips {naive_trips} -> {cold_trips}")
    print(f"peak RSS of this process after the syncs: {peak_rss_mb:.0f} MB")
    print(f"inventory page render at this size: {page_ms:.0f} ms (median of {renders})")
    print(f"speedup={naive_s / sync_s:.1f} round_trips={cold_trips} peak_rss_mb={peak_rss_mb:.0f} "
          f"sync_s={sync_s:.3f} naive_s={naive_s:.2f}")


if __name__ == "__main__":
    main()
