"""benchmarks/change.py --quick as a user runs it: a compact deployment, then one compute cluster added
by a change run, and the closing line: only the difference executed, every earlier VM untouched."""

import re

import pytest

from testkit.processes import run_benchmark

pytestmark = pytest.mark.worker

CLOSING = re.compile(r"^change_vs_full=(?P<ratio>\d+\.\d+) steps_executed=(?P<steps>\d+) untouched_vms=(?P<untouched>\d+)$")


def test_the_quick_change_benchmark_runs_only_the_difference():
    run, closing = run_benchmark("change.py", "--quick", closing=CLOSING, timeout=300)
    assert int(closing["untouched"]) == 2  # the compact cloud's control and compute VMs
    assert int(closing["steps"]) == 8  # preflight, adopt template and folder, one VM's four steps, render
    assert 0 < float(closing["ratio"]) < 1.5
    assert any(line.startswith("VMs added: cloud1-compute-02;") for line in run.lines)
