"""Server time and SQL queries of every Deploy OpenStack wizard step, with a small and a large
synced inventory side by side.

For each inventory (the default VIO model, then +20 clusters x 16 hosts, 5,000 VMs, 200 port
groups, 50 datastores) it registers and syncs the simulated vCenter, then walks the DVS path of
the wizard --runs times through Django's test client (in process: the time is server time), GET
and POST of each step, the review and the finish that creates the deployment. A step whose query
count is the same for both inventories has no N+1.

Every walk starts from the same data: the deployment a walk creates (and the addresses its review
step allocated) is deleted before the next walk, outside the timing; the whole benchmark runs in
a world of its own (benchmarks/_common.prepare: a database, a broker queue, keys and a data
directory made for this run and removed at its end), so it can run again and again.

Run: .venv/bin/python benchmarks/wizard_steps.py [--runs 8] [--quick]   (PostgreSQL database
bench_wizard_<pid> next to DATABASE_URL's when set, else SQLite in a temp dir). --quick: 2 walks
per inventory and a smaller large inventory (+4 clusters x 4 hosts, 500 VMs): what CI runs.
Ends with: p95_ms=<slowest step's p95> queries_max=<n>
"""

import argparse
import gc
import os
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import p95, prepare  # noqa: E402

LARGE = ("-clusters", "20", "-hosts", "16", "-vms", "5000", "-portgroups", "197", "-datastores", "48")
LARGE_QUICK = ("-clusters", "4", "-hosts", "4", "-vms", "500", "-portgroups", "37", "-datastores", "8")


def measure(samples: dict, key: str, call):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Collect the garbage the test client's kept responses leave, outside the timing: a web worker
    # keeps no responses, and a collection landing in one step would be charged to that step.
    gc.collect()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - started
    samples.setdefault(key, {"ms": [], "queries": []})
    samples[key]["ms"].append(elapsed * 1000)
    samples[key]["queries"].append(len(queries))
    return response


def signed_in_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def walk(client, simulator, vcenter, label: str, runs: int, samples: dict) -> dict:
    """The DVS path walked `runs` times through the wizard's pages, every GET and POST timed into
    samples; each walk's deployment (and its addresses) deleted, so the next starts from the same data."""
    from deployments.models import Deployment, IpAllocation
    # The wizard's own test driver: the same answers the HTTP tests give, step by step.
    from testkit.spec import valid_spec
    from testkit.wizard import Wizard, acknowledgements, compute_answer, steps_for

    for run in range(runs):
        spec = valid_spec(simulator)
        spec["name"] = f"{label[:5]}{run}"
        wizard = measure(samples, "new", lambda: Wizard(client))
        for step, data in steps_for(spec, vcenter, wizard):
            measure(samples, f"{step} GET", lambda: wizard.get(step))
            if data == "compute":
                data = compute_answer(spec, wizard.get("compute").context["form"])
            response = measure(samples, f"{step} POST", lambda: wizard.post(step, data))
            assert response.status_code == 302, (step, response.context["form"].errors if response.context else response)
        review = measure(samples, "review GET", lambda: wizard.get("review"))
        response = measure(samples, "review POST (deploy)", lambda: wizard.post("review", acknowledgements(review)))
        assert response.status_code == 302 and response["Location"].endswith("/done/"), (
            f"walk {run + 1} of {runs} was not deployed: " + (
                str(response.context["form"].errors) if response.context else response.get("Location", "")))
        measure(samples, "done", lambda: client.get(response["Location"]))
        made = Deployment.objects.get(name=spec["name"])
        made.delete()
        assert not IpAllocation.objects.filter(deployment_id=made.pk).exists()
    return samples


def walk_inventory(label: str, simulator_args: tuple, runs: int) -> dict:
    from simulators.launcher import start_vcsim
    from testkit.spec import registered_vcenter

    simulator = start_vcsim(*simulator_args)
    try:
        vcenter = registered_vcenter(simulator, name=f"bench-{label}")
        return walk(signed_in_client(), simulator, vcenter, label, runs, {})
    finally:
        simulator.stop()


def interrupted(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends like Ctrl-C: the simulator stopped, the database dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="walks per inventory (default 8; 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="2 walks, a smaller large inventory")
    options = parser.parse_args()
    runs = options.runs or (2 if options.quick else 8)
    if runs < 1:
        parser.error("--runs must be at least 1")
    signal.signal(signal.SIGTERM, interrupted)
    env = prepare("bench_wizard")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    # The specs' appliance OVA URL is on loopback: an administrator's allowance, as in the tests.
    os.environ.setdefault("VIO_OVA_ALLOWED_NETWORKS", "127.0.0.0/8")
    try:
        report(runs, LARGE_QUICK if options.quick else LARGE, env)
    finally:
        from django.db import connections

        connections.close_all()
        env.cleanup()


def report(runs: int, large_args: tuple, env) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    # Lets the test client hand back each response's form (the compute step's rows), as in the tests.
    from django.test.utils import setup_test_environment

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)  # the pages name the hashed static files
    setup_test_environment()

    small = walk_inventory("small", (), runs)
    large = walk_inventory("large", large_args, runs)

    print(f"{env.database}; large inventory: {' '.join(large_args)}")
    print(f"{runs} walks per inventory; server time in process (Django test client)")
    print(f"{'step':24} {'p95 ms small':>12} {'p95 ms large':>12} {'queries small':>14} {'queries large':>14}")
    worst_ms, worst_queries, growing = 0.0, 0, []
    for key in large:
        ms_small, ms_large = p95(small[key]["ms"]), p95(large[key]["ms"])
        q_small, q_large = max(small[key]["queries"]), max(large[key]["queries"])
        worst_ms, worst_queries = max(worst_ms, ms_large), max(worst_queries, q_large)
        if q_large != q_small:
            growing.append(key)
        print(f"{key:24} {ms_small:12.1f} {ms_large:12.1f} {q_small:14d} {q_large:14d}")
    print("query counts independent of inventory size: " + ("yes" if not growing else "no: " + ", ".join(growing)))
    print(f"median step time, large inventory: {statistics.median(v for s in large.values() for v in s['ms']):.1f} ms")
    print(f"p95_ms={worst_ms:.1f} queries_max={worst_queries}")


if __name__ == "__main__":
    main()
