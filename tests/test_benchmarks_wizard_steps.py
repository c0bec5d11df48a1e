"""benchmarks/wizard_steps.py --quick as CI runs it: two walks of the wizard on each inventory (the
second walk deploys again, so every walk has to start from the same data), its table and its
closing line, and nothing left behind (its own database dropped, its simulators stopped). About 30 s."""

import os
import re

from testkit.postgres import database_names
from testkit.processes import run_benchmark

CLOSING = re.compile(r"^p95_ms=(?P<p95>\d+\.\d) queries_max=(?P<queries>\d+)$")
STEPS = ("new", "start", "vcenter", "datacenter", "management_network", "external_network", "load_balancer", "compute",
         "glance", "neutron", "dvs", "keystone", "syslog", "appliance")


def test_the_quick_benchmark_walks_the_wizard_twice_per_inventory():
    assert os.environ.get("DATABASE_URL", "").startswith("postgres"), "run it with scripts/test.sh (PostgreSQL)"
    run, closing = run_benchmark("wizard_steps.py", "--quick", closing=CLOSING)
    out, lines = run.stdout, run.lines
    assert 0 < float(closing["p95"]) < 10_000 and 0 < int(closing["queries"]) < 200
    assert "2 walks per inventory" in out and "query counts independent of inventory size: yes" in out
    rows = {line.split()[0] + (" " + line.split()[1] if line.split()[1] in ("GET", "POST") else ""): line
            for line in lines if re.match(r"^\S+( GET| POST)?\s+\d", line) or line.startswith("review POST")}
    for step in STEPS[1:]:
        assert f"{step} GET" in rows and f"{step} POST" in rows, step
    assert "new" in rows and "review GET" in rows and "done" in rows
    assert any(line.startswith("review POST (deploy)") for line in lines)

    database = re.search(r"PostgreSQL database (bench_wizard_\d+)", out).group(1)
    assert database == f"bench_wizard_{run.pid}"
    assert database not in database_names(os.environ["DATABASE_URL"]), "the benchmark's database was not dropped"
    assert any("vcsim" in command for command in run.children.values()), "no simulator was seen"
    assert not run.left, f"left running: {run.left}"
