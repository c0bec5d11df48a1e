"""benchmarks/deploy.py --quick as a user runs it: real workers, three simulators' worth of runs, its
table and its closing line, and nothing left behind (its own database is dropped). About 25-40 s."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.postgres import database_names

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.worker

CLOSING = re.compile(r"^efficiency_vs_script=(?P<script>\d+\.\d+) efficiency_vs_floor=(?P<floor>\d+\.\d+) "
                     r"speedup_vs_sequential=(?P<speedup>\d+\.\d+) step_overhead_p95_ms=(?P<overhead>\d+) "
                     r"worker_peak_rss_mb=(?P<rss>\d+)$")


def test_the_quick_benchmark_deploys_with_real_workers_and_ends_with_its_figures():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail("The benchmark test needs PostgreSQL: run it with scripts/test.sh.")
    result = subprocess.run([sys.executable, "benchmarks/deploy.py", "--quick"], cwd=ROOT, env=dict(os.environ),
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    lines = out.strip().splitlines()

    closing = CLOSING.match(lines[-1])
    assert closing, lines[-1]
    figures = {name: float(value) for name, value in closing.groupdict().items()}
    assert 0 < figures["script"] <= 1.5 and 0 < figures["speedup"]
    assert 0 < figures["floor"] < 1  # the floor has no overhead at all: no real run reaches it
    assert 0 < figures["overhead"] < 10_000
    assert 30 <= figures["rss"] < 250  # a worker process was measured, and stays within the budget

    # The side-by-side table, for the compact topology of --quick (2 VMs), and no worker errors.
    assert "compact topology, 2 VMs" in out and "engine (a)" in out and "sequential (c)" in out
    assert re.search(r"^end \(wall\)\s+\d+\.\d+\s+\d+\.\d+\s+\d+\.\d+$", out, re.MULTILINE), out
    assert "worker log errors" not in out

    database = re.search(r"PostgreSQL database (bench_deploy_\d+)", out).group(1)
    assert database not in database_names(os.environ["DATABASE_URL"])
