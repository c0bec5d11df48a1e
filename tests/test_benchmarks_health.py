"""benchmarks/health.py --quick as CI runs it: a real HA deployment with real workers on a 3,000-VM
simulated vCenter, 99 more deployments on the model's VMs, health of the 100 judged together and one
by one, drift found through the live watcher, a missing VM repaired; its table, its closing line with
the three figures, and nothing left behind (its database dropped, its workers and simulator stopped).
No figure is held to a time: only that each was measured."""

import os
import re

import pytest

from testkit.postgres import database_names
from testkit.processes import run_benchmark

pytestmark = pytest.mark.worker

CLOSING = re.compile(r"^health_100_ms=(?P<health>\d+) drift_to_finding_p95_ms=(?P<drift>\d+) "
                     r"repair_vs_full=(?P<repair>\d+\.\d{3})$")


def test_the_quick_health_benchmark_judges_100_deployments_finds_drift_and_repairs():
    assert os.environ.get("DATABASE_URL", "").startswith("postgres"), "run it with scripts/test.sh (PostgreSQL)"
    run, closing = run_benchmark("health.py", "--quick", closing=CLOSING, timeout=600)
    out = run.stdout
    figures = {name: float(value) for name, value in closing.groupdict().items()}
    assert figures["health"] >= 0 and figures["drift"] > 0 and figures["repair"] > 0

    # The 100 judged with the full work (every planned VM and rule found: all healthy), batch and
    # naive side by side, the batch in far fewer queries than one evaluation per deployment.
    assert "statuses: healthy 100; findings: none" in out, out
    queries = re.search(r"^  SQL queries\s+(\d+)\s+(\d+)\s", out, re.MULTILINE)
    assert queries, out
    assert 0 < int(queries[1]) * 10 <= int(queries[2])
    assert re.search(r"^  wall, median of 3 \(ms\)\s+\d+\.\d\s+\d+\.\d\s+\d+\.\dx$", out, re.MULTILINE), out
    assert re.search(r"^  GET /api/v1/deployments/health/ \(all 100\): \d+\.\d ms", out, re.MULTILINE), out

    # Three drifts timed to their finding; the VM repaired twice (alone, then among the 100), healthy after each.
    assert re.search(r"^  3 drifts of cloud1-\S+ among the 100", out, re.MULTILINE), out
    assert out.count("healthy again: yes") == 2, out
    assert re.search(r"^  repair cloud1-memcache-02, alone\s+\d+\.\d", out, re.MULTILINE), out
    assert re.search(r"^  dominant alone: \S+", out, re.MULTILINE), out

    database = re.search(r"PostgreSQL database (bench_health_\d+)", out).group(1)
    assert database not in database_names(os.environ["DATABASE_URL"]), "the benchmark's database was not dropped"
    assert any("vcsim" in command for command in run.children.values()), "no simulator was seen"
    assert any("celery" in command for command in run.children.values()), "no worker was seen"
    assert not run.left, f"left running: {run.left}"
