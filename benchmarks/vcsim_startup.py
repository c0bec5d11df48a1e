"""Build and start-up figures for the vCenter simulator harness (simulators/vcsim).

Measures, on this machine:
  - a cold build (empty Go build cache) and a warm rebuild of var/bin/vcsim;
  - wall time from spawning the simulator to its ready line, for the default VIO model and for a
    20-cluster x 16-host, 5,000-VM model (`-clusters 20 -hosts 16 -vms 5000`, which adds to the
    four VIO clusters);
  - the same large model built by govmomi's stock Model.Create (benchmarks/vcsim_stock), side by
    side, as the baseline.

Run: .venv/bin/python benchmarks/vcsim_startup.py [--runs 3] [--quick]
--quick (what CI runs): no cold build (both builds use this machine's Go build cache, warm once
`make vcsim` has run), one run each, and a smaller model (+4 clusters x 4 hosts, 500 VMs; stock:
4 x 4, 125 VMs a cluster). Its figures are not comparable with a full run's.
Ends with: vcsim_build_s=<cold build; warm with --quick> default_start_s=<s> scale_start_s=<s> scale_vs_stock=<x>
"""

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GO_ENV = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode")


SCALE = {"ours": ("-clusters", "20", "-hosts", "16", "-vms", "5000"), "stock": ("-cluster", "20", "-host", "16", "-vm", "250"),
         "label": "20 clusters x 16 hosts, 5,000 VMs"}
SCALE_QUICK = {"ours": ("-clusters", "4", "-hosts", "4", "-vms", "500"), "stock": ("-cluster", "4", "-host", "4", "-vm", "125"),
               "label": "4 clusters x 4 hosts, 500 VMs"}


def build(source: Path, output: Path, cache: str | None) -> float:
    env = dict(GO_ENV, GOCACHE=cache) if cache else GO_ENV
    started = time.monotonic()
    subprocess.run(["go", "build", "-o", str(output), "."], cwd=source, env=env, check=True)
    return time.monotonic() - started


def start(binary: Path, *args: str) -> tuple[float, dict]:
    """Seconds from spawn to the ready line, and the ready line itself."""
    started = time.monotonic()
    process = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        elapsed = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    return elapsed, json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="start-ups of each model (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="no cold build, one run, a smaller model")
    options = parser.parse_args()
    runs = options.runs or (1 if options.quick else 3)
    model = SCALE_QUICK if options.quick else SCALE

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ours, stock = tmp / "vcsim", tmp / "vcsim_stock"
        # A cold build has a Go build cache of its own, empty; --quick uses this machine's cache.
        cache = None if options.quick else str(tmp / "gocache")
        cold = None if options.quick else build(ROOT / "simulators" / "vcsim", ours, cache=cache)
        warm = build(ROOT / "simulators" / "vcsim", ours, cache=cache)
        build(ROOT / "benchmarks" / "vcsim_stock", stock, cache=cache)

        default_runs = [start(ours, "-listen", "127.0.0.1:0")[0] for _ in range(runs)]
        scale = [start(ours, "-listen", "127.0.0.1:0", *model["ours"]) for _ in range(runs)]
        stock_runs = [start(stock, *model["stock"])[0] for _ in range(runs)]

    inventory = scale[0][1]["inventory"]
    default_s = statistics.median(default_runs)
    scale_s = statistics.median(run[0] for run in scale)
    stock_s = statistics.median(stock_runs)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; median of {runs} runs"
          + ("; --quick: no cold build, a smaller model" if options.quick else ""))
    print(f"{'what':58} {'seconds':>9}")
    if cold is not None:
        print(f"{'build, cold Go cache (go build, govmomi 0.24.2 from GOPATH)':58} {cold:9.2f}")
    print(f"{'build, warm cache':58} {warm:9.2f}")
    print(f"{'start, default VIO model (4 clusters, 11 hosts)':58} {default_s:9.3f}")
    print(f"{'start, +' + model['label'] + ' (ours)':58} {scale_s:9.3f}")
    print(f"{'start, ' + model['label'] + ' (stock Model)':58} {stock_s:9.3f}")
    print(f"scale model inventory: {inventory}")
    print(f"ours vs stock on the large model: {scale_s / stock_s:.2f}x the time")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"largest resident set of any child (go build or a simulator): {peak_mb:.0f} MB")
    print(f"vcsim_build_s={cold if cold is not None else warm:.1f} default_start_s={default_s:.3f} scale_start_s={scale_s:.3f} scale_vs_stock={scale_s / stock_s:.2f}")


if __name__ == "__main__":
    main()
