"""benchmarks/chaos.py --quick as CI runs it: a world of its own (private PostgreSQL and Redis,
gunicorn, beat, two workers), two kill points (a clone in flight, a teardown) of a compact deployment, and the
closing line with nothing lost, duplicated, left behind or stuck. About a minute."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.worker

CLOSING = re.compile(r"^kill_points=(?P<points>\d+) recovered=(?P<recovered>\d+) duplicates=(?P<duplicates>\d+) "
                     r"leftovers=(?P<leftovers>\d+) stuck=(?P<stuck>\d+) max_recovery_s=(?P<recovery>[\d.]+)$")


def test_the_quick_chaos_campaign_recovers_every_kill_point():
    result = subprocess.run([sys.executable, "benchmarks/chaos.py", "--quick"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    closing = CLOSING.match(lines[-1])
    assert closing, lines[-1]
    figures = {name: float(value) for name, value in closing.groupdict().items()}
    assert figures["points"] == figures["recovered"] == 2, result.stdout
    assert figures["duplicates"] == figures["leftovers"] == figures["stuck"] == 0
    assert 0 < figures["recovery"] <= 6 + 30  # the lost-worker time of the campaign + 30 s
    assert any(line.startswith("baseline (no fault)") for line in lines)
