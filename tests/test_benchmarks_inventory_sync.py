"""benchmarks/inventory_sync.py --quick as CI runs it: a smaller simulated vCenter synced cold and
warm against a naive attribute walk, the inventory page rendered, its closing line, and nothing left
behind (its own database dropped, its simulator stopped). About 20 s."""

import os
import re

from testkit.postgres import database_names
from testkit.processes import run_benchmark

CLOSING = re.compile(r"^speedup=(?P<speedup>\d+\.\d) round_trips=(?P<trips>\d+) peak_rss_mb=(?P<rss>\d+) "
                     r"sync_s=(?P<sync>\d+\.\d{3}) naive_s=(?P<naive>\d+\.\d\d)$")


def test_the_quick_benchmark_syncs_faster_than_the_naive_walk():
    assert os.environ.get("DATABASE_URL", "").startswith("postgres"), "run it with scripts/test.sh (PostgreSQL)"
    run, closing = run_benchmark("inventory_sync.py", "--quick", closing=CLOSING)
    out = run.stdout
    figures = {name: float(value) for name, value in closing.groupdict().items()}
    assert figures["speedup"] > 1 and 0 < figures["trips"] < 100 and figures["rss"] > 0
    assert 0 < figures["sync"] < figures["naive"]
    # The smaller model of --quick: the VIO inventory plus 4 clusters of 4 hosts, all stored.
    assert re.search(r"^stored: .*'clusters': 8, 'hosts': 27", out, re.MULTILINE), out
    assert re.search(r"^inventory page render at this size: \d+ ms \(median of 1\)$", out, re.MULTILINE)

    database = re.search(r"PostgreSQL database (bench_inventory_\d+)", out).group(1)
    assert database not in database_names(os.environ["DATABASE_URL"]), "the benchmark's database was not dropped"
    assert any("vcsim" in command for command in run.children.values()), "no simulator was seen"
    assert not run.left, f"left running: {run.left}"
