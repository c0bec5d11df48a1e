"""benchmarks/live_inventory.py --quick as CI runs it: the default and a small simulated vCenter,
each fully synced (cold and warm) against the naive walk, kept live by the watcher while VMs are
powered off and on through pyvmomi, and the wizard walked; its table, its closing line, and nothing
left behind (its own database dropped, its simulators stopped)."""

import os
import re

from testkit.postgres import database_names
from testkit.processes import run_benchmark

CLOSING = re.compile(r"^full_sync_s=(?P<sync>\d+\.\d\d) speedup=(?P<speedup>\d+\.\d) peak_rss_mb=(?P<rss>\d+) "
                     r"update_p95_ms=(?P<update>\d+) wizard_p95_ms=(?P<wizard>\d+\.\d)$")


def test_the_quick_benchmark_measures_sync_updates_and_the_wizard():
    assert os.environ.get("DATABASE_URL", "").startswith("postgres"), "run it with scripts/test.sh (PostgreSQL)"
    run, closing = run_benchmark("live_inventory.py", "--quick", closing=CLOSING, timeout=600)
    out = run.stdout
    figures = {name: float(value) for name, value in closing.groupdict().items()}
    assert 0 < figures["sync"] < 30 and figures["speedup"] > 1 and figures["rss"] > 0
    assert 0 < figures["update"] < 10_000 and 0 < figures["wizard"] < 10_000
    # Both models side by side, the small one with its 500 VMs (and the template) stored.
    assert re.search(r"^\s+default\s+small$", out, re.MULTILINE), out
    assert re.search(r"^hosts / VMs\s+11/1\s+27/501$", out, re.MULTILINE), out
    assert re.search(r"^update p95: change to API \(ms\)\s+\d+\s+\d+$", out, re.MULTILINE)
    assert re.search(r"^changes measured\s+5\s+5$", out, re.MULTILINE)

    database = re.search(r"PostgreSQL database (bench_live_\d+)", out).group(1)
    assert database not in database_names(os.environ["DATABASE_URL"]), "the benchmark's database was not dropped"
    assert sum("vcsim" in command for command in run.children.values()) >= 2, "no simulators were seen"
    assert not run.left, f"left running: {run.left}"
