"""Build and start-up figures for the vCenter simulator harness (simulators/vcsim).

Measures, on this machine:
  - a cold build (empty Go build cache) and a warm rebuild of var/bin/vcsim;
  - wall time from spawning the simulator to its ready line, for the default VIO model and for a
    20-cluster x 16-host, 5,000-VM model (`-clusters 20 -hosts 16 -vms 5000`, which adds to the
    four VIO clusters), with the simulator's peak resident set;
  - the same large model built by govmomi's stock Model.Create (benchmarks/vcsim_stock), side by
    side, as the baseline;
  - WaitForUpdatesEx on the large model: a private collector with one filter over every VM
    (ContainerView), the time of its first (full) answer, and the time from one PowerOffVM_Task
    (another session) to the answer that shows it, median of a few; with the harness's collector
    and with govmomi's own (`-stock-collector`): the simulator's own share of a change's latency.
  - with --max, the same for vCenter's maximums (+40 clusters x 63 hosts: 2,531 hosts, 40,000
    VMs, 403 port groups, 2,733 datastores): build time and peak RSS, and the update latency with
    both collectors. Heavy: about 2 GB and a few minutes on 2 cores.

Run: .venv/bin/python benchmarks/vcsim_startup.py [--runs 3] [--quick] [--max]
--quick (what CI runs): no cold build (both builds use this machine's Go build cache, warm once
`make vcsim` has run), one run each, a smaller model (+4 clusters x 4 hosts, 500 VMs; stock:
4 x 4, 125 VMs a cluster), and the update latency with the harness's collector only. Its figures
are not comparable with a full run's.
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GO_ENV = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode")


SCALE = {"ours": ("-clusters", "20", "-hosts", "16", "-vms", "5000"), "stock": ("-cluster", "20", "-host", "16", "-vm", "250"),
         "label": "20 clusters x 16 hosts, 5,000 VMs"}
SCALE_QUICK = {"ours": ("-clusters", "4", "-hosts", "4", "-vms", "500"), "stock": ("-cluster", "4", "-host", "4", "-vm", "125"),
               "label": "4 clusters x 4 hosts, 500 VMs"}
MAX = ("-clusters", "40", "-hosts", "63", "-vms", "40000", "-portgroups", "400", "-datastores", "200")


def build(source: Path, output: Path, cache: str | None) -> float:
    env = dict(GO_ENV, GOCACHE=cache) if cache else GO_ENV
    started = time.monotonic()
    subprocess.run(["go", "build", "-o", str(output), "."], cwd=source, env=env, check=True)
    return time.monotonic() - started


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(binary: Path, *args: str) -> tuple[float, dict, float]:
    """Seconds from spawn to the ready line, the ready line itself, and the peak RSS (MB) by then."""
    started = time.monotonic()
    process = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        elapsed = time.monotonic() - started
        rss = peak_rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(300)
    return elapsed, json.loads(line), rss


def update_latency(binary: Path, args: tuple, changes: int) -> dict:
    """WaitForUpdatesEx on a started simulator: one filter over all VMs through a ContainerView on a
    private collector (one session); `changes` times, a PowerOffVM_Task from another session and
    the seconds until the wait's answer shows it. Also the start (s, peak RSS) and the first answer."""
    from pyVim.connect import Disconnect, SmartConnect
    from pyVmomi import vim, vmodl

    from inventory.clients.tls import context_trusting, fetch_certificate
    from simulators.launcher import RunningVcsim, _spawn

    pc = vmodl.query.PropertyCollector
    started = time.monotonic()
    process, ready, stderr = _spawn([str(binary), "-listen", "127.0.0.1:0", *args], "vcsim", timeout=1200)
    running = RunningVcsim.from_ready_line(process, ready, stderr, "administrator@vsphere.local", "VMware1!")
    figures = {"start_s": time.monotonic() - started, "rss_mb": peak_rss_mb(process.pid)}
    try:
        context = context_trusting(fetch_certificate(running.host, running.port).der, allow_weak=False)
        watcher, actor = (SmartConnect(host=running.host, port=running.port, user=running.username, pwd=running.password,
                                       sslContext=context, connectionPoolTimeout=900) for _ in range(2))
        content = watcher.content
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        collector = content.propertyCollector.CreatePropertyCollector()
        collector.CreateFilter(pc.FilterSpec(
            objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[pc.TraversalSpec(name="view", path="view", skip=False,
                                                                                      type=vim.view.ContainerView)])],
            propSet=[pc.PropertySpec(type=vim.VirtualMachine, pathSet=["name", "runtime.powerState", "runtime.host"])]), False)
        began = time.monotonic()
        first = collector.WaitForUpdatesEx("", pc.WaitOptions(maxWaitSeconds=600))
        figures["initial_s"] = time.monotonic() - began
        powered_on = [o.obj._moId for fs in first.filterSet for o in fs.objectSet
                      if any(c.name == "runtime.powerState" and c.val == "poweredOn" for c in o.changeSet)]
        version, latencies = first.version, []
        for moid in powered_on[:changes]:
            seen = {}

            def wait(moid=moid):
                nonlocal version
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and "at" not in seen:
                    update = collector.WaitForUpdatesEx(version, pc.WaitOptions(maxWaitSeconds=60))
                    if update is None:
                        continue
                    version = update.version
                    if any(o.obj._moId == moid and any(c.name == "runtime.powerState" and c.val == "poweredOff" for c in o.changeSet)
                           for fs in update.filterSet for o in fs.objectSet):
                        seen["at"] = time.monotonic()

            waiter = threading.Thread(target=wait)
            waiter.start()
            time.sleep(0.5)  # the wait is on the wire before the change
            changed = time.monotonic()
            vim.VirtualMachine(moid, actor._stub).PowerOffVM_Task()
            waiter.join(400)
            latencies.append(seen["at"] - changed)
        figures["latency_s"] = statistics.median(latencies)
        Disconnect(watcher)
        Disconnect(actor)
    finally:
        running.stop(timeout=300)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="start-ups of each model (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="no cold build, one run, a smaller model")
    parser.add_argument("--max", action="store_true", help="also vCenter's maximums: 2,531 hosts, 40,000 VMs (heavy)")
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
        changes = 3 if options.quick else 5
        updates = {"harness": update_latency(ours, model["ours"], changes)}
        if not options.quick:
            updates["stock"] = update_latency(ours, (*model["ours"], "-stock-collector"), changes)
        maximum = {}
        if options.max:
            maximum["harness"] = update_latency(ours, MAX, changes)
            maximum["stock"] = update_latency(ours, (*MAX, "-stock-collector"), 3)

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
    print(f"{'peak RSS (MB), +' + model['label'] + ' (ours)':58} {statistics.median(run[2] for run in scale):9.0f}")
    print(f"scale model inventory: {inventory}")
    print(f"WaitForUpdatesEx, a filter over all VMs (ContainerView), +{model['label']}, median of {changes} changes:")
    for name, figures in updates.items():
        print(f"  {name + ' collector':18} first answer {figures['initial_s']:7.2f} s   a PowerOffVM_Task to its answer "
              f"{figures['latency_s'] * 1000:8.0f} ms")
    if maximum:
        figures = maximum["harness"]
        print(f"maximum model ({' '.join(MAX)}): start {figures['start_s']:.1f} s, peak RSS {figures['rss_mb']:.0f} MB "
              f"(stock collector run: {maximum['stock']['start_s']:.1f} s, {maximum['stock']['rss_mb']:.0f} MB)")
        for name, figures in maximum.items():
            print(f"  {name + ' collector':18} first answer {figures['initial_s']:7.2f} s   a PowerOffVM_Task to its answer "
                  f"{figures['latency_s'] * 1000:8.0f} ms")
    print(f"ours vs stock on the large model: {scale_s / stock_s:.2f}x the time")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"largest resident set of any child (go build or a simulator): {peak_mb:.0f} MB")
    print(f"vcsim_build_s={cold if cold is not None else warm:.1f} default_start_s={default_s:.3f} scale_start_s={scale_s:.3f} scale_vs_stock={scale_s / stock_s:.2f}")


if __name__ == "__main__":
    main()
