"""Day 2 change against a full deployment: adding one compute cluster to a deployed cloud, on the vCenter
simulator with the deploy benchmark's delays (benchmarks/deploy.py DELAYS_MS), real Celery workers.

What runs, on one fresh simulator:
  (a) full: an HA DVS deployment (13 VMs, one compute cluster) launched like the API does and run to
      its end by the engine. Wall = create returned -> Run.finished_at.
  (b) change: Compute-B added through deployments.services.changes.apply (a new revision, a change run
      of only the difference: its nova-compute VM cloned, customized, powered on, its guest waited for,
      the bundle rendered again; on simulated hosts kolla-ansible is not run). Wall = apply returned ->
      Run.finished_at.
Side by side: the two walls and their ratio (the issue's goal: the change at most 0.15 of the full
deployment), the steps each run executed, and the VMs the change left untouched (same moid as before).
The floor of each, from the delays alone: full = list scheduling of its step graph under the
per-vCenter limit (benchmarks/deploy.py list_schedule), change = the delays on its one chain.

Run: .venv/bin/python benchmarks/change.py [--quick]   (its own database and queue, as benchmarks/deploy.py)
--quick: compact topology, delays x0.2. Ends with one line:
change_vs_full=<x> steps_executed=<n> untouched_vms=<n>
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import Workers, prepare  # noqa: E402
from benchmarks.deploy import DELAYS_MS, list_schedule, start_simulator  # noqa: E402
from testkit.ova import serve_ova  # noqa: E402
from testkit.spec import registered_vcenter, spec_for  # noqa: E402

TIMEOUT = 900


def _wait(run) -> None:
    from deployments.choices import RUN_TERMINAL, RunStatus

    deadline = time.monotonic() + TIMEOUT
    while run.status not in RUN_TERMINAL and time.monotonic() < deadline:
        time.sleep(0.1)
        run.refresh_from_db(fields=["status", "finished_at", "error"])
    if run.status != RunStatus.SUCCEEDED:
        raise RuntimeError(f"run {run.number} ended {run.status}: {run.error or 'timed out'}")


def _vms(sim, prefix: str) -> dict[str, str]:
    from pyVmomi import vim

    from inventory.clients.vsphere import collect, connect, disconnect

    si = connect(sim.host, sim.port, sim.username, sim.password, sim.fingerprint)
    try:
        return {r["name"]: r["_obj"]._moId for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"].startswith(prefix)}
    finally:
        disconnect(si)


def _executed(run) -> list[str]:
    from deployments.choices import StepStatus

    return list(run.steps.filter(status=StepStatus.SUCCEEDED).values_list("key", flat=True))


def measure(topology: str, delays: dict, ova_url: str) -> dict:
    from deployments.services import changes, launch

    sim = start_simulator(delays)
    try:
        registered_vcenter(sim, "bench-change")
        data = spec_for(sim, "cloud1", topology, ova_url)
        _, blocking, advisory = launch.check(data)
        if blocking:
            raise RuntimeError("the spec does not pass its checks: " + "; ".join(i.message for i in blocking))
        acknowledged = {launch.warning_key(i) for i in advisory}
        deployment = launch.create_deployment(data, acknowledged=acknowledged)
        started = time.time()
        full = deployment.runs.get()
        _wait(full)
        full_wall = full.finished_at.timestamp() - started
        before = _vms(sim, "cloud1-")

        changed = dict(data, compute_clusters=data["compute_clusters"] + [{"cluster": "Compute-B",
                                                                           "datastores": ["vio-compute-nfs"]}])
        proposal = changes.propose(deployment, changed)
        run = changes.apply(deployment, changed, note="benchmark: one more compute cluster",
                            acknowledged={launch.warning_key(i) for i in proposal.advisory})
        started = time.time()
        _wait(run)
        change_wall = run.finished_at.timestamp() - started
        after = _vms(sim, "cloud1-")
        return {"full": full, "full_wall": full_wall, "change": run, "change_wall": change_wall,
                "added": sorted(set(after) - set(before)),
                "untouched": sum(1 for name, moid in before.items() if after.get(name) == moid), "before": len(before)}
    finally:
        sim.stop()


def floors(result: dict, delays: dict) -> tuple[float, float]:
    """The delays alone: the full run list-scheduled under the per-vCenter limit, the change's chain."""
    from django.conf import settings

    def duration(step):
        return delays.get(step["kind"], 0) / 1000

    def adopting(step):  # a change finds the template imported: no upload
        return 0.0 if step["kind"] == "import_ova" else duration(step)

    full = list(result["full"].steps.values("key", "kind", "host", "weight", "depends_on"))
    change = list(result["change"].steps.values("key", "kind", "host", "weight", "depends_on"))
    limit, per_host = settings.VIO_ENGINE_PARALLEL_PER_VCENTER, settings.VIO_ENGINE_PARALLEL_PER_HOST
    return list_schedule(full, duration, limit, per_host), list_schedule(change, adopting, limit, per_host)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="compact topology, delays x0.2: a smoke test")
    options = parser.parse_args()
    scale = 0.2 if options.quick else 1.0
    topology = "compact" if options.quick else "ha"
    delays = {kind: int(ms * scale) for kind, ms in DELAYS_MS.items()}

    environment = prepare("bench_change")
    os.environ["VIO_OVA_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the OVA is served on loopback
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    workers = Workers(count=2, concurrency=3)
    workers.start()
    ova_url, server = serve_ova(environment.data_dir)
    try:
        result = measure(topology, delays, ova_url)
        full_floor, change_floor = floors(result, delays)
        full_steps, change_steps = _executed(result["full"]), _executed(result["change"])
    finally:
        workers.stop()
        server.shutdown()
        server.server_close()
        from django.db import connections

        connections.close_all()
        environment.cleanup()

    ratio = result["change_wall"] / result["full_wall"]
    print(f"{topology} topology, delays (ms): " + ", ".join(f"{k} {v}" for k, v in delays.items()))
    print(f"{'':34}{'wall s':>9}{'floor s':>9}{'steps':>7}")
    print(f"{'full deployment':34}{result['full_wall']:9.1f}{full_floor:9.1f}{len(full_steps):7d}")
    print(f"{'change: one more compute cluster':34}{result['change_wall']:9.1f}{change_floor:9.1f}{len(change_steps):7d}")
    print(f"change / full: {ratio:.3f} (floors: {change_floor / full_floor if full_floor else 0:.3f}); goal <= 0.15")
    print(f"VMs added: {', '.join(result['added'])}; untouched {result['untouched']} of {result['before']}")
    print(f"change steps: {', '.join(change_steps)}")
    print(f"change_vs_full={ratio:.3f} steps_executed={len(change_steps)} untouched_vms={result['untouched']}")
    return 0 if result["untouched"] == result["before"] and len(result["added"]) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
