"""Deployment wall time: the engine (real Celery workers) against a hand-written parallel pyvmomi
script and the same operations one after another, on the vCenter simulator with task delays.

What runs (each on a fresh simulator process with the same delays, so no run adopts what another made):
  (a) engine: an HA DVS deployment (13 VMs) from testkit.spec.valid_spec, launched with
      deployments.services.launch.create_deployment and advanced by `--workers` real `celery worker`
      processes (prefork, `--concurrency` children each; default 2 x 3 = 6 pool slots, so the 4 steps the
      per-vCenter limit settings.VIO_ENGINE_PARALLEL_PER_VCENTER allows can run while advance_run tasks
      still find a free slot). Wall = create_deployment returned (run committed, first advance on the
      broker) -> Run.finished_at.
  (b) script: the same vCenter operations in the same dependency order, hand-written pyvmomi
      (benchmarks/_deploy_script.py): OVA import || folder + pool; per VM (thread pool bounded by the
      same limit) clone -> customize (+ the customized tag); one anti-affinity reconfigure after every
      VM is customized; per VM power on -> wait for the guest. One session per thread.
  (c) sequential: (b) with one thread.
Delays (ms; simulators/vcsim/control.go): CloneVM_Task, CustomizeVM_Task, PowerOnVM_Task (and
ReconfigureComputeResource_Task for anti-affinity) via -task-delay: the task stays "running" that
long. The import is a delay rule on ImportVApp (not a task: its answer comes that much later).
"Guest ready": the simulator reports the guest's IP the moment power-on applies the pending
customization, and VMware Tools as running from the clone's SET.guest.toolsRunningStatus key, so a
guest wait would end at once. It is modelled as a delay rule on the CreateFilter call that starts a
guest wait (matched on "guest.ipAddress"): every client pays it from the moment it starts waiting,
not from power-on, so a client's gap between power-on and its wait is charged on top (as it would be
after a real boot that is already over) - the same rule for the engine and the script.

T_floor: list scheduling of the run's own step graph (deployments.plan.step_graph, with the run's
host placement) where each step lasts its delay (steps without a vCenter delay last 0), at most
VIO_ENGINE_PARALLEL_PER_VCENTER steps run at once and VIO_ENGINE_PARALLEL_PER_HOST clones per host:
t=0; repeat {start ready steps in priority order while the limits allow; jump to the next finish};
makespan = last finish. Three priorities: graph order (what (b) does),
longest remaining path first with the path measured in delays, or in the steps' progress weights
(what advance() does: the engine knows the weights, not the delays). T_floor = the best of the three. HA, default
delays, graph order: 5 (import) + 16 (13 clone+customize chains of 4 s on 4 slots: ceil(13/4) x 4)
+ 12 (13 power-on+wait chains of 3 s) = 33 s; longest path first: 29 s (clones before customizes,
power-ons before waits, so the slots stay full at the phase ends).

Step overhead (zero delays; workers warmed by one zero-delay run first): for every step of the run,
  overhead = scheduling: the step became claimable -> advance() claimed it (claimable: its last
               dependency finished - for the first step, the launch - and a slot under the limit
               was free, so time queued behind the limit is not counted)
           + dispatch: claimed -> the worker's "<key> started" event (Celery round trip + executor
               bookkeeping)
           + in-step excess: started -> finished, minus the median time the script takes for the
               same vCenter operation on a zero-delay simulator (steps the script does not do -
               preflight, render_bundle, configure, validate - count their own work as 0 excess).
p95 over all steps. The delayed engine run (a), on the same warm workers, is broken down the same
way per kind (excess = in-step - delay), and every hop from a step's finish to the start of the
step its advance claims is timed from Celery's signals (benchmarks/_probe.py, loaded into the
workers). Worker memory: psutil samples every 0.2 s; the figure is the peak RSS of the largest
single worker process (main process or pool child); the peak PSS summed over every worker process
is shown alongside, with the workers' CPU time per engine step.

Run: .venv/bin/python benchmarks/deploy.py [--quick]   (PostgreSQL database bench_deploy_<pid> next
to DATABASE_URL's when set, else SQLite in a temp dir; Redis 127.0.0.1:6379/14 if it answers, else
the filesystem broker). --quick: compact topology (2 VMs), delays x0.2. Ends with:
efficiency_vs_script=<x> efficiency_vs_floor=<x> speedup_vs_sequential=<x> step_overhead_p95_ms=<n> worker_peak_rss_mb=<n>
"""

import argparse
import heapq
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import Workers, p95, prepare  # noqa: E402
from testkit.ova import appliance_ova, serve_ova  # noqa: E402
from testkit.spec import registered_vcenter as register  # noqa: E402
from testkit.spec import spec_for  # noqa: E402

DELAYS_MS = {"import_ova": 5000, "clone": 3000, "customize": 1000, "power_on": 1000, "wait_guest": 2000,
             "anti_affinity": 0}
TASK_METHODS = {"clone": "CloneVM_Task", "customize": "CustomizeVM_Task", "power_on": "PowerOnVM_Task",
                "anti_affinity": "ReconfigureComputeResource_Task"}
VCENTER_KINDS = ("import_ova", "folders", "clone", "customize", "anti_affinity", "power_on", "wait_guest")


# --- the simulator ------------------------------------------------------------------------------


def start_simulator(delays: dict, *model: str, timeout: float = 120.0):
    """A fresh vcsim (of a model's flags, when given) with the delays: task delays by flag, the import
    and guest wait by rule."""
    from inventory.clients.tls import pinned_context
    from simulators.launcher import start_vcsim

    flags = ",".join(f"{TASK_METHODS[kind]}={ms}" for kind, ms in delays.items() if kind in TASK_METHODS and ms)
    sim = start_vcsim(*model, *(["-task-delay", flags] if flags else []), timeout=timeout)
    context = pinned_context(sim.host, sim.port, sim.fingerprint)
    rules = [dict(method="ImportVApp", delay=delays.get("import_ova", 0), count=-1),
             dict(method="CreateFilter", match="guest.ipAddress", delay=delays.get("wait_guest", 0), count=-1)]
    for rule in rules:
        if not rule["delay"]:
            continue
        conn = http.client.HTTPSConnection(sim.host, sim.port, context=context, timeout=10)
        try:
            conn.request("POST", "/vcsim/fault?" + urllib.parse.urlencode(rule))
            response = conn.getresponse()
            body = response.read().decode()
        finally:
            conn.close()
        if response.status != 201:
            sim.stop()
            raise RuntimeError(f"the simulator refused the delay rule {rule}: {body}")
    return sim


# --- (a) the engine -----------------------------------------------------------------------------


# Simulators the workers hold sessions to: stopped after the workers, whose shutdown logs out of
# every session (against a stopped simulator each logout takes seconds to give up).
LIVE_SIMULATORS: list = []


def engine_run(name: str, delays: dict, topology: str, ova_url: str, timeout: float = 900) -> dict:
    from deployments.choices import RUN_TERMINAL, RunStatus
    from deployments.models import RunEvent
    from deployments.services import launch

    sim = start_simulator(delays)
    LIVE_SIMULATORS.append(sim)
    register(sim, name)
    data = spec_for(sim, name, topology, ova_url)
    _, blocking, advisory = launch.check(data)
    if blocking:
        raise RuntimeError("the spec does not pass its checks: " + "; ".join(i.message for i in blocking))
    started = time.time()
    deployment = launch.create_deployment(data, acknowledged={launch.warning_key(i) for i in advisory})
    launched = time.time()
    run = deployment.runs.get()
    deadline = time.monotonic() + timeout
    while run.status not in RUN_TERMINAL and time.monotonic() < deadline:
        time.sleep(0.1)
        run.refresh_from_db(fields=["status", "finished_at", "error"])
    if run.status != RunStatus.SUCCEEDED:
        raise RuntimeError(f"engine run {name} ended {run.status}: {run.error or 'timed out'}")
    steps = list(run.steps.values("id", "key", "kind", "host", "weight", "depends_on", "started_at", "finished_at"))
    began = {}
    for key, message, at in RunEvent.objects.filter(run=run).values_list("step_key", "message", "created_at"):
        if key and " started (attempt " in message:
            began[key] = at.timestamp()  # the latest attempt wins
    for step in steps:
        step["started_at"], step["finished_at"] = step["started_at"].timestamp(), step["finished_at"].timestamp()
        step["began"] = began.get(step["key"], step["started_at"])
    finished = run.finished_at.timestamp()
    return {"create_s": launched - started, "launched": launched, "steps": steps, "wall": finished - launched}


def engine_phases(result: dict) -> dict:
    """Seconds from launch at which each phase of the engine's run was over."""
    steps, t0 = result["steps"], result["launched"]

    def done(kinds):
        return max(s["finished_at"] for s in steps if s["kind"] in kinds) - t0

    return {"import": done({"import_ova", "folders"}), "customized": done({"clone", "customize"}),
            "anti_affinity": done({"anti_affinity"}), "guests": done({"power_on", "wait_guest"}), "end": result["wall"]}


def claimable_at(result: dict, limit: int) -> dict[str, float]:
    """When each step could have been claimed: its dependencies done and a slot under the limit
    free. Slots are handed out in claim order, each to the earliest freed one (a step that waited
    for a slot is charged from that slot's release, not from its dependencies)."""
    steps, free = result["steps"], [result["launched"]] * limit
    finished = {s["key"]: s["finished_at"] for s in steps}
    # Finishes before claims at the same instant: a claim is always triggered by an earlier finish.
    timeline = sorted([(s["finished_at"], 0, i, s) for i, s in enumerate(steps)]
                      + [(s["started_at"], 1, i, s) for i, s in enumerate(steps)], key=lambda e: e[:3])
    at = {}
    for when, is_claim, _, step in timeline:
        if not is_claim:
            heapq.heappush(free, when)
            continue
        ready = max((finished[d] for d in step["depends_on"]), default=result["launched"])
        at[step["key"]] = max(ready, heapq.heappop(free) if free else ready)
    return at


def step_overheads(result: dict, limit: int, work: dict | None = None, delays: dict | None = None) -> list[dict]:
    """Per step: scheduling, dispatch and in-step excess, in seconds (see the module docstring).
    The excess is measured against `work` (script medians by kind) or `delays` (ms by kind)."""
    steps = result["steps"]
    claimable = claimable_at(result, limit)
    rows = []
    for step in steps:
        ready = claimable[step["key"]]
        inside = step["finished_at"] - step["began"]
        kind = step["kind"]
        if kind not in VCENTER_KINDS:
            excess = 0.0
        elif work is not None:
            excess = max(0.0, inside - work.get(kind, 0.0))
        else:
            excess = inside - (delays or {}).get(kind, 0) / 1000
        rows.append({"key": step["key"], "kind": kind, "scheduling": step["started_at"] - ready,
                     "dispatch": step["began"] - step["started_at"], "excess": excess, "inside": inside})
    for row in rows:
        row["total"] = row["scheduling"] + row["dispatch"] + row["excess"]
    return rows


def print_by_kind(label: str, excess: str, overheads: list[dict]) -> None:
    print(f"\nwhere the engine's time goes, {label} (ms; median / p95 per kind; {excess}, for the vCenter steps)")
    fields = ("scheduling", "dispatch", "inside", "excess")
    print(f"{'kind':14} {'n':>3}" + "".join(f"{f.replace('inside', 'in-step'):>15}" for f in fields))
    for kind in dict.fromkeys(row["kind"] for row in overheads):
        rows = [row for row in overheads if row["kind"] == kind]
        cells = [f"{statistics.median(row[f] for row in rows) * 1000:6.0f} /{p95([row[f] for row in rows]) * 1000:6.0f}"
                 for f in fields]
        print(f"{kind:14} {len(rows):3d}" + "".join(f"{c:>15}" for c in cells))


def read_probe(path: Path) -> dict[str, dict]:
    """{task id: {"name", "args", "parent", "publish", "received", "prerun", "postrun"}} from the probe."""
    messages: dict[str, dict] = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        event = json.loads(line)
        entry = messages.setdefault(event["id"], {"name": event["name"], "args": [], "parent": None})
        entry[event["ev"]] = event["t"]
        entry["args"] = entry["args"] or event["args"]  # "received" lines carry none
        if event["ev"] == "publish":
            entry["parent"] = event["parent"]
    return messages


def hops(result: dict, messages: dict) -> dict[str, list[dict]]:
    """Each step's way from its claim to its "started" event, by how it reached a worker: "inline"
    (the worker that finished the step before it claimed it and went on with it, no message) or
    "queued" (an execute_step message through the broker: publish -> received -> pool child)."""
    executes = {m["args"][0]: m for m in messages.values()
                if m["name"] == "deployments.execute_step" and m.get("args") and "prerun" in m}
    ways: dict[str, list[dict]] = {"inline": [], "queued": []}
    for step in result["steps"]:
        message = executes.get(step["id"])
        points = {"claimed": step["started_at"], "began": step["began"]}
        if message is not None and message.get("publish") and message["publish"] >= step["started_at"] - 0.001:
            points.update(publish=message["publish"], received=message.get("received"), prerun=message["prerun"])
            ways["queued"].append(points)
        else:
            ways["inline"].append(points)
    return ways


HOPS = (("claimed -> execute sent", "claimed", "publish"), ("broker -> worker", "publish", "received"),
        ("worker -> pool child", "received", "prerun"), ("pool child -> 'started' event", "prerun", "began"))


def print_hops(runs: dict[str, dict[str, list[dict]]]) -> None:
    print("\nfrom a step's claim to its 'started' event (ms, p50 / p95; Celery signals)")
    print(f"{'':34}" + "".join(f"{label:>18}" for label in runs))

    def row(label, chains_by_run, start, end):
        cells = []
        for chains in chains_by_run:
            values = [(c[end] - c[start]) * 1000 for c in chains if c.get(start) and c.get(end)]
            cells.append(f"{statistics.median(values):7.1f} /{p95(values):7.1f}" if values else "-")
        print(f"{label:34}" + "".join(f"{cell:>18}" for cell in cells))

    row("inline: claimed -> 'started'", [ways["inline"] for ways in runs.values()], "claimed", "began")
    for label, start, end in HOPS:
        row("queued: " + label, [ways["queued"] for ways in runs.values()], start, end)
    row("queued: total", [ways["queued"] for ways in runs.values()], "claimed", "began")
    print(f"{'(steps inline / queued)':34}" + "".join(
        f"{len(ways['inline']):>12} / {len(ways['queued']):<3}" for ways in runs.values()))


# --- (b), (c) the script ------------------------------------------------------------------------


def script_run(name: str, delays: dict, topology: str, threads: int, per_host: int) -> dict:
    from benchmarks._deploy_script import HandWritten
    from deployments.plan import build_plan
    from deployments.spec import parse

    sim = start_simulator(delays)
    try:
        spec, issues = parse(spec_for(sim, name, topology, "http://127.0.0.1/unused.ova"))
        if spec is None:
            raise RuntimeError(f"the spec does not parse: {issues}")
        script = HandWritten(sim, spec, build_plan(spec), appliance_ova(Path(os.environ["VIO_DATA_DIR"])), threads,
                             per_host)
        started = time.monotonic()
        phases = script.run()
        wall = time.monotonic() - started
    finally:
        sim.stop()
    return {"wall": wall, "phases": {key: at - started for key, at in phases.items()}, "ops": script.ops}


def medians_by_kind(ops: list[tuple[str, float]]) -> dict:
    by_kind: dict[str, list[float]] = {}
    for kind, seconds in ops:
        by_kind.setdefault(kind, []).append(seconds)
    return {kind: statistics.median(values) for kind, values in by_kind.items()}


# --- the floor ----------------------------------------------------------------------------------


def list_schedule(steps: list[dict], duration, limit: int, per_host: int, rank_by=None) -> float:
    """Makespan of the step graph with at most `limit` steps running (and `per_host` clones on one
    host); ready steps start in graph order, or longest remaining path first where the path's
    length adds up rank_by(step) (its duration, or the step's progress weight)."""
    order = {s["key"]: i for i, s in enumerate(steps)}
    children: dict[str, list[str]] = {s["key"]: [] for s in steps}
    for s in steps:
        for d in s["depends_on"]:
            children[d].append(s["key"])
    rank: dict[str, float] = {}
    for s in reversed(steps):  # graph order is topological: children come later
        rank[s["key"]] = (rank_by or duration)(s) + max((rank[c] for c in children[s["key"]]), default=0.0)
    priority = (lambda k: (-rank[k], order[k])) if rank_by else order.get
    deps = {s["key"]: set(s["depends_on"]) for s in steps}
    by_key = {s["key"]: s for s in steps}
    pending, done, running, now = set(order), {}, [], 0.0
    while pending or running:
        ready = sorted((k for k in pending if deps[k] <= done.keys()), key=priority)
        on_host: dict[str, int] = {}
        for _, _, key in running:
            if by_key[key].get("host"):
                on_host[by_key[key]["host"]] = on_host.get(by_key[key]["host"], 0) + 1
        for key in ready:
            host = by_key[key].get("host")
            if len(running) >= limit:
                break
            if host and on_host.get(host, 0) >= per_host:
                continue
            on_host[host] = on_host.get(host, 0) + 1
            pending.discard(key)
            heapq.heappush(running, (now + duration(by_key[key]), order[key], key))
        if not running:
            raise RuntimeError("the step graph cannot finish (a cycle, or a missing dependency)")
        now, _, key = heapq.heappop(running)
        done[key] = now
    return max(done.values())


# --- main ---------------------------------------------------------------------------------------


def measure(r: dict, options, environment) -> None:
    """Every run, in order; results land in `r` as they come (the caller cleans up either way)."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    import benchmarks._probe  # noqa: F401  (the first advance_run of each run is published from here)

    began = time.monotonic()
    call_command("migrate", verbosity=0)
    migrated = time.monotonic()
    r["limit"], r["per_host"] = settings.VIO_ENGINE_PARALLEL_PER_VCENTER, settings.VIO_ENGINE_PARALLEL_PER_HOST
    print(f"database: {environment.database}; broker: {environment.broker} (queue {environment.queue})")
    r["workers"] = Workers(options.workers, options.concurrency, extra_args=("--include", "benchmarks._probe"))
    r["workers"].start()
    print(f"setup: migrate {migrated - began:.1f} s, workers ready {time.monotonic() - migrated:.1f} s; "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"workers: {options.workers} x prefork concurrency {options.concurrency}; per-vCenter limit {r['limit']}, "
          f"per host {r['per_host']}; topology {r['topology']}; delays ms {r['delays']}")
    ova_url, r["server"] = serve_ova(environment.data_dir)
    elapsed, mark = r["elapsed"], time.monotonic()
    elapsed["setup"] = mark - began

    def run(label: str, key: str, call, *args):
        nonlocal mark
        cpu = r["workers"].cpu_seconds()
        r[key] = call(*args)
        r[key]["worker_cpu"] = r["workers"].cpu_seconds() - cpu
        elapsed[label], mark = time.monotonic() - mark, time.monotonic()

    topology, delays, zero, limit = r["topology"], r["delays"], {kind: 0 for kind in DELAYS_MS}, r["limit"]
    # Zero delays: the script's work per operation, the engine's own overhead per step (after a warm-up).
    run("zero-delay script", "script0", script_run, "zscript", zero, topology, limit, r["per_host"])
    run("zero-delay engine (warm-up)", "cold", engine_run, "zwarm", zero, topology, ova_url)
    run("zero-delay engine", "engine0", engine_run, "zero", zero, topology, ova_url)
    # The comparison, each on a fresh simulator with the delays; the engine on workers warmed by the above.
    run("script", "script", script_run, "script", delays, topology, limit, r["per_host"])
    run("sequential", "sequential", script_run, "seq", delays, topology, 1, r["per_host"])
    run("engine", "engine", engine_run, "engine", delays, topology, ova_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="compact topology, delays x0.2: a smoke test")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=3, help="prefork children per worker (default 3)")
    parser.add_argument("--scale", type=float, default=None, help="multiply every delay (default 1, --quick 0.2)")
    options = parser.parse_args()
    scale = options.scale if options.scale is not None else (0.2 if options.quick else 1.0)
    r = {"topology": "compact" if options.quick else "ha", "elapsed": {},
         "delays": {kind: int(ms * scale) for kind, ms in DELAYS_MS.items()}}

    environment = prepare("bench_deploy")
    os.environ["VIO_OVA_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the OVA is served on loopback, as an administrator allows
    probe = environment.data_dir / "probe.jsonl"
    os.environ["VIO_BENCH_PROBE"] = str(probe)  # read by benchmarks/_probe.py, here and in the workers
    try:
        measure(r, options, environment)
        r["messages"] = read_probe(probe)
    finally:
        stopping = time.monotonic()
        if r.get("workers"):
            r["workers"].stop()
        for sim in LIVE_SIMULATORS:  # after the workers: they log out of them on the way down
            sim.stop()
        if r.get("server"):
            r["server"].shutdown()
            r["server"].server_close()
        from django.db import connections

        connections.close_all()
        environment.cleanup()
        r["elapsed"]["stop and clean up"] = time.monotonic() - stopping
    print(f"load average at the end {' '.join(f'{v:.1f}' for v in os.getloadavg())}; benchmark phases (s, with "
          "simulator start, registration and sync): " + ", ".join(f"{k} {v:.1f}" for k, v in r["elapsed"].items()))
    if r["workers"].errors():
        print("worker log errors:\n" + "".join(r["workers"].errors()[:20]))
    report(r)


def report(r: dict) -> None:
    engine, script, sequential, delays, limit = r["engine"], r["script"], r["sequential"], r["delays"], r["limit"]
    workers = r["workers"]

    def duration(step):
        return delays.get(step["kind"], 0) / 1000

    def schedule(rank_by=None):
        return list_schedule(engine["steps"], duration, limit, r["per_host"], rank_by=rank_by)

    schedules = {"graph order": schedule(), "longest path first": schedule(duration),
                 "longest path by weights first": schedule(lambda step: step["weight"])}
    vms = sum(1 for s in engine["steps"] if s["kind"] == "clone")
    print(f"\n{r['topology']} topology, {vms} VMs, {len(engine['steps'])} engine steps; limit {limit} per vCenter")
    print(f"{'seconds from start':34} {'engine (a)':>11} {'script (b)':>11} {'sequential (c)':>15}")
    ep, sp, qp = engine_phases(engine), script["phases"], sequential["phases"]
    labels = {"import": "import + folder/pool done", "customized": "every VM cloned + customized",
              "anti_affinity": "anti-affinity done", "guests": "every guest up", "end": "end (wall)"}
    for key, label in labels.items():
        print(f"{label:34} {ep[key]:11.2f} {sp.get(key, script['wall']):11.2f} {qp.get(key, sequential['wall']):15.2f}")
    print(f"{'(engine: create_deployment call)':34} {engine['create_s']:11.2f}")
    floor = min(schedules.values())
    print(f"T_floor {floor:.2f} s, the best list schedule of the delays under the limits ("
          + ", ".join(f"{label} {value:.2f} s" for label, value in schedules.items()) + ")")
    eff_script, eff_floor = script["wall"] / engine["wall"], floor / engine["wall"]
    speedup = sequential["wall"] / engine["wall"]
    print(f"engine vs script {eff_script:.3f}, vs floor {eff_floor:.3f} "
          f"(script vs floor {floor / script['wall']:.3f}); speedup vs sequential {speedup:.2f} "
          f"(script's {sequential['wall'] / script['wall']:.2f})")

    delayed = step_overheads(engine, limit, delays=delays)
    print_by_kind("delayed run", "excess = in-step - delay", delayed)
    script_excess = [s - delays.get(k, 0) / 1000 for k, s in script["ops"] if delays.get(k, 0)]
    if script_excess:
        print(f"script's own excess over the delay (simulator's 250 ms update ticks, round trips): median "
              f"{statistics.median(script_excess) * 1000:.0f} ms, p95 {p95(script_excess) * 1000:.0f} ms")

    work = medians_by_kind(r["script0"]["ops"])
    overheads = step_overheads(r["engine0"], limit, work=work)
    print_by_kind("zero delays", "excess = in-step - the script's median for the same operation", overheads)
    totals = [row["total"] for row in overheads]
    print(f"\nzero delays: engine wall {r['engine0']['wall']:.2f} s for {len(totals)} steps; script work medians (ms): "
          + ", ".join(f"{k} {v * 1000:.0f}" for k, v in work.items()))
    cold = step_overheads(r["cold"], limit, work=work)
    for label, rows in (("warm", overheads), ("cold (first run of fresh workers)", cold)):
        parts = {f: [row[f] for row in rows] for f in ("scheduling", "dispatch", "excess", "total")}
        print(f"  step overhead, {label}: " + ", ".join(
            f"{f} p50 {statistics.median(v) * 1000:.0f} / p95 {p95(v) * 1000:.0f}" for f, v in parts.items()) + " ms")
    print(f"worker memory: peak RSS of one process {workers.peak_process_rss:.0f} MB; peak PSS summed over all "
          f"{len(workers.processes)} workers' processes {workers.peak_total_pss:.0f} MB")
    print("worker CPU (user + system, every worker process) per engine step: "
          + ", ".join(f"{label} {r[key]['worker_cpu'] / len(r[key]['steps']) * 1000:.0f} ms"
                      for label, key in (("zero delays", "engine0"), ("delayed", "engine"))))
    print_hops({"zero delays": hops(r["engine0"], r["messages"]), "delayed": hops(engine, r["messages"])})
    print(f"efficiency_vs_script={eff_script:.3f} efficiency_vs_floor={eff_floor:.3f} "
          f"speedup_vs_sequential={speedup:.2f} step_overhead_p95_ms={p95(totals) * 1000:.0f} "
          f"worker_peak_rss_mb={workers.peak_process_rss:.0f}")


if __name__ == "__main__":
    main()
