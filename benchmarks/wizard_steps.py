"""Server time and SQL queries of every Deploy OpenStack wizard step, with a small and a large
synced inventory side by side.

For each inventory (the default VIO model, then +20 clusters x 16 hosts, 5,000 VMs, 200 port
groups, 50 datastores) it registers and syncs the simulated vCenter, then walks the DVS path of
the wizard --runs times through Django's test client (in process: the time is server time), GET
and POST of each step, the review and the finish that creates the deployment. A step whose query
count is the same for both inventories has no N+1.

Run: .venv/bin/python benchmarks/wizard_steps.py [--runs 8]   (a throw-away SQLite database, or
DATABASE_URL if set). Ends with: p95_ms=<slowest step's p95> queries_max=<n>
"""

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VIO_DATA_DIR", tempfile.mkdtemp(prefix="vio-bench-"))
os.environ.setdefault("VIO_HTTPS", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")

import django  # noqa: E402

django.setup()

LARGE = ("-clusters", "20", "-hosts", "16", "-vms", "5000", "-portgroups", "197", "-datastores", "48")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


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


def walk_inventory(label: str, simulator_args: tuple, runs: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from simulators.launcher import start_vcsim
    # The wizard's own test driver: the same answers the HTTP tests give, step by step.
    from tests.spec_fixtures import registered_vcenter, valid_spec
    from tests.test_wizard import Wizard, steps_for

    simulator = start_vcsim(*simulator_args)
    samples: dict = {}
    try:
        vcenter = registered_vcenter(simulator, name=f"bench-{label}")
        user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True, "is_staff": True})
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        for run in range(runs):
            spec = valid_spec(simulator)
            spec["name"] = f"{label[:5]}{run}"
            wizard = measure(samples, "new", lambda: Wizard(client))
            for step, data in steps_for(spec, vcenter, wizard):
                measure(samples, f"{step} GET", lambda: wizard.get(step))
                if data == "compute":
                    form = wizard.get("compute").context["form"]
                    data = {}
                    for entry in spec["compute_clusters"]:
                        row = next(i for i, r in enumerate(form.rows) if r["cluster"].name == entry["cluster"])
                        data[f"use_{row}"], data[f"datastores_{row}"] = "on", entry["datastores"]
                response = measure(samples, f"{step} POST", lambda: wizard.post(step, data))
                assert response.status_code == 302, (step, response.context["form"].errors if response.context else response)
            review = measure(samples, "review GET", lambda: wizard.get("review"))
            acks = {name: "on" for name in review.context["form"].fields if name.startswith("ack_")}
            response = measure(samples, "review POST (deploy)", lambda: wizard.post("review", acks))
            assert response.status_code == 302
            measure(samples, "done", lambda: client.get(response["Location"]))
    finally:
        simulator.stop()
    return samples


def main() -> None:
    from django.core.management import call_command

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    options = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    # Lets the test client hand back each response's form (the compute step's rows), as in the tests.
    from django.test.utils import setup_test_environment

    setup_test_environment()

    small = walk_inventory("small", (), options.runs)
    large = walk_inventory("large", LARGE, options.runs)

    print(f"{options.runs} walks per inventory; server time in process (Django test client)")
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
