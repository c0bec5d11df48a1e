"""benchmarks/api.py --quick as a user runs it: 1,000 deployments, list pages in process, polls
through a real gunicorn, its tables and its closing line, and nothing left behind (its gunicorn
stopped, its database dropped). About 60 s."""

import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CLOSING = re.compile(r"^list_p95_ms=(?P<list>\d+\.\d) poll_rps=(?P<rps>\d+) poll_vs_bare=(?P<ratio>\d+\.\d\d)$")


def _bench_databases() -> set[str]:
    import psycopg2

    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    connection = psycopg2.connect(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password,
                                  dbname=url.path.lstrip("/"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench_api_%'")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()


def test_the_quick_benchmark_measures_lists_and_polls_and_ends_with_its_figures():
    assert os.environ.get("DATABASE_URL", "").startswith("postgres"), "run it with scripts/test.sh (PostgreSQL)"
    process = subprocess.Popen([sys.executable, "benchmarks/api.py", "--quick", "--seconds", "1"], cwd=ROOT,
                               env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children = {}  # (pid, start time): command line
    try:
        while True:  # note the processes it starts (gunicorn, ab), to check they are gone afterwards
            try:
                out, err = process.communicate(timeout=1)
                break
            except subprocess.TimeoutExpired:
                children.update(_children(process.pid))
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, out[-3000:] + err[-3000:]
    lines = out.strip().splitlines()

    closing = CLOSING.match(lines[-1])
    assert closing, lines[-1]
    assert 0 < float(closing["list"]) < 2000 and int(closing["rps"]) > 0 and 0 < float(closing["ratio"]) < 1.5
    assert "query count per page independent of the number of deployments: yes" in out
    rows = {line.split("  ")[0].strip(): line for line in lines}
    for endpoint in ("deployments (page of 100)", "deployment events (page of 100)", "templates", "vcenters",
                     "poll: deployment", "poll: status ?since", "poll: events ?since"):
        assert endpoint in rows, endpoint
    # The poll reads the token and the deployment (with its latest run and progress): two queries.
    assert rows["poll: deployment"].split()[-2:] == ["2", "2"], rows["poll: deployment"]
    for reference in ("bare Django view", "plain DRF view", "DRF + token auth only", "poll: deployment"):
        assert re.search(rf"^sync\s+{re.escape(reference)}\s+\d+", out, re.MULTILINE), reference

    database = f"bench_api_{process.pid}"
    assert f"PostgreSQL database {database}:" in out
    assert database not in _bench_databases(), "the benchmark's database was not dropped"
    assert any("gunicorn" in command for command in children.values()), "no gunicorn was seen"
    left = [command for (pid, created), command in children.items() if _alive(pid, created)]
    assert not left, f"left running: {left}"


def _children(pid: int) -> dict:
    found = {}
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for child in children:
        try:
            found[(child.pid, child.create_time())] = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass
    return found


def _alive(pid: int, created: float) -> bool:
    """The same process (not a new one with a reused pid), and not a zombie."""
    try:
        process = psutil.Process(pid)
        return process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
