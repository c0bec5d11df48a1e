"""benchmarks/vcsim_startup.py --quick as CI runs it: the simulator and govmomi's stock model built
(the Go build cache warm from `make vcsim`), each started on a smaller model, its table and its
closing line, and no simulator left running. About 10-30 s."""

import re
import shutil

from testkit.processes import run_benchmark

CLOSING = re.compile(r"^vcsim_build_s=(?P<build>\d+\.\d) default_start_s=(?P<default>\d+\.\d{3}) "
                     r"scale_start_s=(?P<scale>\d+\.\d{3}) scale_vs_stock=(?P<ratio>\d+\.\d\d)$")


def test_the_quick_benchmark_builds_and_starts_both_simulators():
    assert shutil.which("go"), "Go is missing: `make test` installs Debian's golang-go"
    run, closing = run_benchmark("vcsim_startup.py", "--quick", closing=CLOSING)
    figures = {name: float(value) for name, value in closing.groupdict().items()}
    assert figures["build"] > 0 and 0 < figures["default"] < figures["scale"] and figures["ratio"] > 0
    assert "no cold build" in run.stdout and "build, cold Go cache" not in run.stdout
    assert re.search(r"^scale model inventory: .*'clusters': 8, .*'hosts': 27, .*'vms': 500", run.stdout, re.MULTILINE)
    assert any("vcsim" in command for command in run.children.values()), "no simulator was seen"
    assert not run.left, f"left running: {run.left}"
