"""benchmarks/api.py --quick as a user runs it: 1,000 deployments, list pages in process, polls
through a real gunicorn (each also as a conditional poll answered 304), its tables and its closing
line, and nothing left behind (its gunicorn stopped, its database dropped). About 60 s."""

import os
import re

from testkit.postgres import database_names
from testkit.processes import run_benchmark

CLOSING = re.compile(r"^list_p95_ms=(?P<list>\d+\.\d) poll_rps=(?P<rps>\d+) poll_vs_bare=(?P<ratio>\d+\.\d\d) "
                     r"poll_304_rps=(?P<rps_304>\d+) poll_304_vs_bare=(?P<ratio_304>\d+\.\d\d)$")


def test_the_quick_benchmark_measures_lists_and_polls_and_ends_with_its_figures():
    assert os.environ.get("DATABASE_URL", "").startswith("postgres"), "run it with scripts/test.sh (PostgreSQL)"
    run, closing = run_benchmark("api.py", "--quick", "--seconds", "1", closing=CLOSING)
    out, lines = run.stdout, run.lines
    assert 0 < float(closing["list"]) < 2000 and int(closing["rps"]) > 0 and 0 < float(closing["ratio"]) < 1.5
    assert int(closing["rps_304"]) > 0 and 0 < float(closing["ratio_304"]) < 1.5
    assert "query count per page independent of the number of deployments: yes" in out
    rows = {line.split("  ")[0].strip(): line for line in lines}
    for endpoint in ("deployments (page of 100)", "deployment events (page of 100)", "templates", "vcenters",
                     "poll: deployment", "poll: status ?since", "poll: events ?since", "poll: deployment (304)",
                     "poll: status ?since (304)", "poll: events ?since (304)"):
        assert endpoint in rows, endpoint
    # The token comes from the cache: the poll reads the deployment with its latest run, its
    # progress and what its ETag is made of, in one query; a poll with a matching ETag, one query.
    assert rows["poll: deployment"].split()[-2:] == ["1", "1"], rows["poll: deployment"]
    for poll in ("poll: deployment (304)", "poll: status ?since (304)", "poll: events ?since (304)"):
        assert rows[poll].split()[-2:] == ["1", "1"], rows[poll]
    for reference in ("bare Django view", "plain DRF view", "DRF + token auth only", "poll: deployment",
                      "poll: deployment (304)"):
        assert re.search(rf"^sync\s+{re.escape(reference)}\s+\d+", out, re.MULTILINE), reference

    database = f"bench_api_{run.pid}"
    assert f"PostgreSQL database {database}:" in out
    assert database not in database_names(os.environ["DATABASE_URL"]), "the benchmark's database was not dropped"
    assert any("gunicorn" in command for command in run.children.values()), "no gunicorn was seen"
    assert not run.left, f"left running: {run.left}"
