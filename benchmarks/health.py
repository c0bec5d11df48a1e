"""Deployment health (issue 16): 100 deployments judged on the 5,000-VM model, drift in vCenter to the
finding in the API, and the repair of one missing VM against a full deployment.

What runs, in this order, on one vCenter simulator of the model (simulators/vcsim flags,
benchmarks/live_inventory.py MODELS) with the deploy benchmark's task delays (benchmarks/deploy.py
DELAYS_MS) and real Celery workers (2 x 3, as benchmarks/change.py):
  (a) full: one real deployment (HA DVS, 13 VMs) launched as the API does and run to its end by the
      engine. Wall = create returned -> Run.finished_at.
  (b) 99 more deployments made cheaply but truly in vCenter: rows (a Deployment, a succeeded deploy Run
      whose plan is an HA plan named hxNNN: 13 VMs, their anti-affinity groups) and, for each planned
      VM, one powered-on VM of the model renamed to the plan's name and tagged as the engine tags its VMs
      (extraConfig vio-manager.deployment / role, VMware Tools running) through pyvmomi, a deployment's
      VMs on different hosts.
  (c) the watcher (inventory.services.watcher.Supervisor, as `manage.py watch_inventory` runs it) keeps
      the picture live from here on; health reads exactly what it reads in production.
  (d) repair, alone (the full deployment's conditions: the management cluster holds its rules only):
      one of its VMs destroyed through pyvmomi, the vm_missing finding awaited in
      GET /api/v1/deployments/{id}/health/, POST /api/v1/deployments/{id}/repairs/ {"finding": id}, the
      repair run (recreate_vm) run to its end. Wall = POST answered -> Run.finished_at. Ratio repair /
      full (the issue's goal: at most 0.15), the steps' durations (StepRun) and the time no step ran,
      and which part dominates. Floors from the delays alone as in benchmarks/change.py (list
      scheduling under the per-vCenter limit; a repair adopts the template, so its import costs 0).
  (e) the 99's anti-affinity rules added to the Management cluster (one reconfigure, taken in live).
  (f) health_100: deployments.services.health.evaluate_many over the 100 (one call, the picture read
      once per vCenter) against the naive baseline, evaluate() once per deployment: wall (median of
      --repeats after a first call) and SQL queries (CaptureQueriesContext) side by side; and one
      GET /api/v1/deployments/health/ (every deployment's health, as the API lists it).
  (g) drift to finding: a VM of the real deployment powered off through pyvmomi and its health polled
      in the API every 50 ms until it shows vm_powered_off for that VM; powered on again and polled
      until the finding is gone. Per drift: total (the pyvmomi call to the API showing it), vCenter's
      share (the call to the watcher receiving the update) and ours.
  (h) repair, among the 100: (d) again, the cluster now holding every deployment's rules.

Run: DATABASE_URL=postgres://… .venv/bin/python benchmarks/health.py [--quick] [--drifts 20] [--repeats 5]
(its own PostgreSQL database bench_health_<pid> next to DATABASE_URL's when set, else SQLite in a temp
dir; Redis 127.0.0.1:6379/14 if it answers, else the filesystem broker; all removed at its end).
--quick (what CI runs): a 3,000-VM model (+4 clusters x 4 hosts, enough powered-on VMs for the 99),
delays x0.2, 3 drifts, 3 repeats; its figures are not comparable with a full run's. Ends with one line:
health_100_ms=<n> drift_to_finding_p95_ms=<n> repair_vs_full=<x>
"""

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import Workers, p95, prepare  # noqa: E402
from benchmarks.deploy import DELAYS_MS, list_schedule, start_simulator  # noqa: E402
from benchmarks.live_inventory import MODELS, Answers  # noqa: E402
from testkit.ova import serve_ova  # noqa: E402
from testkit.spec import registered_vcenter, spec_for  # noqa: E402

MODELS = dict(MODELS, quick=("-clusters", "4", "-hosts", "4", "-vms", "3000", "-portgroups", "37", "-datastores", "8"))
DEPLOYMENTS = 100  # judged together: the real one and DEPLOYMENTS - 1 made on the model's VMs
TIMEOUT = 900
POLL = 0.05  # the API is polled every 50 ms


def interrupted(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends like Ctrl-C: workers, watcher and simulator stopped, database dropped


# --- the simulator ------------------------------------------------------------------------------


def _session(sim):
    from inventory.clients.vsphere import connect

    return connect(sim.host, sim.port, sim.username, sim.password, sim.fingerprint)


def _vm_named(si, name: str):
    from pyVmomi import vim

    from inventory.clients.vsphere import collect

    return next((r["_obj"] for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"] == name), None)


# --- (a) the real deployment --------------------------------------------------------------------


def _wait(run, timeout: float = TIMEOUT):
    from deployments.choices import RUN_TERMINAL, RunStatus

    deadline = time.monotonic() + timeout
    while run.status not in RUN_TERMINAL and time.monotonic() < deadline:
        time.sleep(0.1)
        run.refresh_from_db(fields=["status", "finished_at", "error"])
    if run.status != RunStatus.SUCCEEDED:
        raise RuntimeError(f"run {run.number} ended {run.status}: {run.error or 'timed out'}")
    return run


def full_deployment(sim, topology: str, ova_url: str) -> dict:
    from deployments.services import launch

    data = spec_for(sim, "cloud1", topology, ova_url)
    _, blocking, advisory = launch.check(data)
    if blocking:
        raise RuntimeError("the spec does not pass its checks: " + "; ".join(i.message for i in blocking))
    asked = time.time()
    deployment = launch.create_deployment(data, acknowledged={launch.warning_key(i) for i in advisory})
    started = time.time()
    run = _wait(deployment.runs.get())
    return {"deployment": deployment, "run": run, "request_s": started - asked,
            "wall": run.finished_at.timestamp() - started}


# --- (b) 99 more deployments on the model's VMs -------------------------------------------------


def _ha_plan(sim, ova_url: str, name: str) -> dict:
    from deployments.plan import build_plan
    from deployments.services import launch

    # Its addresses may be the real deployment's (blocking for a launch): health does not mind.
    spec, blocking, _ = launch.check(spec_for(sim, name, "ha", ova_url), live=False)
    if spec is None:
        raise RuntimeError("the HA spec is not valid: " + "; ".join(i.message for i in blocking))
    return build_plan(spec).as_dict()


def _interleaved(candidates: list[dict]) -> list[dict]:
    """The VMs host by host in turn, so any run of consecutive ones lies on as many hosts as can be."""
    by_host = defaultdict(deque)
    for row in sorted(candidates, key=lambda r: r["_obj"]._moId):
        by_host[row["host"]].append(row)
    queues, order = deque(by_host.values()), []
    while queues:
        queue = queues.popleft()
        order.append(queue.popleft())
        if queue:
            queues.append(queue)
    return order


def make_deployments(sim, vcenter, real, ova_url: str, count: int) -> dict:
    """`count` deployments whose plans match renamed, tagged VMs of the model (see the docstring)."""
    from pyVmomi import vim

    from deployments.choices import DeploymentStatus, RunKind, RunStatus
    from deployments.models import Deployment, Run
    from inventory.clients.vsphere import collect, disconnect, wait_for_tasks
    from inventory.clients.vsphere_build import DEPLOYMENT_KEY, ROLE_KEY, SIMULATED_TOOLS_KEY, TOOLS_RUNNING

    started = time.monotonic()
    template = json.dumps(_ha_plan(sim, ova_url, "hx000"))
    per_deployment = len(json.loads(template)["vms"])
    si = _session(sim)
    rows = collect(si, vim.VirtualMachine, ["name", "runtime.host", "runtime.powerState", "config.template"])
    candidates = [dict(r, host=r["runtime.host"]._moId) for r in rows
                  if r.get("runtime.powerState") == "poweredOn" and not r.get("config.template")
                  and not r["name"].startswith("cloud1-") and r.get("runtime.host") is not None]
    needed = count * per_deployment
    if len(candidates) < needed:
        disconnect(si)
        raise RuntimeError(f"the model has {len(candidates)} powered-on VMs; {needed} are needed")
    pool = _interleaved(candidates)[:needed]

    now = real["run"].finished_at
    deployments = Deployment.objects.bulk_create([
        Deployment(name=name, vcenter=vcenter, spec=dict(real["deployment"].spec, name=name, topology="ha"),
                   status=DeploymentStatus.SUCCEEDED)
        for name in (f"hx{i + 1:03d}" for i in range(count))])
    plans = {}
    for deployment in deployments:
        plans[deployment.pk] = json.loads(template.replace("hx000", deployment.name))
    Run.objects.bulk_create([
        Run(deployment=d, number=1, kind=RunKind.DEPLOY, status=RunStatus.SUCCEEDED, plan=plans[d.pk], spec=d.spec,
            started_at=now, finished_at=now) for d in deployments])

    # Each planned VM: a model VM renamed and tagged, one ReconfigVM_Task each. Before the watcher runs:
    # the simulator renames a VM on ReconfigVM_Task(spec.name) without reporting the change to property
    # collectors (govmomi's configure sets the name field directly), so only a full sync sees it.
    work, moid_of = [], {}
    for index, deployment in enumerate(deployments):
        for offset, planned in enumerate(plans[deployment.pk]["vms"]):
            row = pool[index * per_deployment + offset]
            moid_of[planned["name"]] = row["_obj"]._moId
            tags = {DEPLOYMENT_KEY: str(deployment.pk), ROLE_KEY: planned["role"], SIMULATED_TOOLS_KEY: TOOLS_RUNNING}
            work.append((row["_obj"]._moId, planned["name"], tags))

    # One task at a time: tasks running at once in the simulator race (one's sweep of finished inner
    # tasks can drop another's before it is read: "task … vanished", simulators/vcsim/tasks.go).
    for moid, name, tags in work:
        spec = vim.vm.ConfigSpec(name=name, extraConfig=[vim.option.OptionValue(key=k, value=v) for k, v in tags.items()])
        task = vim.VirtualMachine(moid, si._stub).ReconfigVM_Task(spec)
        state = wait_for_tasks(si, [task], 60)[task._moId]
        if state.get("info.state") != "success":
            disconnect(si)
            raise RuntimeError(f"tagging {moid} as {name} failed: {state.get('info.error')}")

    disconnect(si)
    return {"deployments": deployments, "plans": plans, "moid_of": moid_of, "vms": needed, "rules": 0,
            "per_deployment": per_deployment, "hosts": len({row["host"] for row in pool}),
            "seconds": time.monotonic() - started}


def add_rules(sim, made: dict) -> float:
    """The 99's anti-affinity groups as rules on the management cluster (one reconfigure); the seconds
    until the stored picture (kept by the watcher) holds them all."""
    from pyVmomi import vim

    from inventory.clients.vsphere import collect, disconnect, wait_for_tasks
    from inventory.models import Cluster

    started = time.monotonic()
    si = _session(sim)
    try:
        management = next(r["_obj"] for r in collect(si, vim.ClusterComputeResource, ["name"]) if r["name"] == "Management")
        rules, names = [], set()
        for deployment in made["deployments"]:
            for rule_name, members in made["plans"][deployment.pk]["anti_affinity"].items():
                refs = [vim.VirtualMachine(made["moid_of"][m], si._stub) for m in members]
                rules.append(vim.cluster.RuleSpec(operation="add", info=vim.cluster.AntiAffinityRuleSpec(
                    name=rule_name, enabled=True, vm=refs)))
                names.add(rule_name)
        task = management.ReconfigureComputeResource_Task(vim.cluster.ConfigSpecEx(rulesSpec=rules), True)
        state = wait_for_tasks(si, [task], 120)[task._moId]
        if state.get("info.state") != "success":
            raise RuntimeError(f"adding the rules failed: {state.get('info.error')}")
    finally:
        disconnect(si)
    made["rules"] = len(rules)

    def stored():
        cluster = Cluster.objects.filter(vcenter__host=sim.host, vcenter__port=sim.port, name="Management").first()
        return cluster is not None and names <= {rule.get("name") for rule in cluster.rules or []}

    _eventually(stored, "the rules in the picture", 120)
    return time.monotonic() - started


# --- the watcher --------------------------------------------------------------------------------


class Watching:
    def __init__(self, vcenter):
        from inventory.services.watcher import Supervisor

        self.vcenter, self.stop = vcenter, threading.Event()
        self.thread = threading.Thread(target=Supervisor([vcenter.pk]).run, args=(self.stop,), daemon=True)

    def start(self, timeout: float = 600) -> float:
        from inventory.models import InventoryWatch

        started = time.monotonic()
        self.thread.start()
        while not InventoryWatch.objects.filter(pk=self.vcenter.pk, state="live").exists():
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the watcher did not become live in {timeout:.0f} s")
            time.sleep(0.05)
        return time.monotonic() - started

    def end(self) -> None:
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(60)


def _eventually(check, what: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(POLL)


# --- (f) health of 100 deployments --------------------------------------------------------------


def health_of_many(deployment_ids: list[int], client, repeats: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from deployments.models import Deployment
    from deployments.services import health

    deployments = list(Deployment.objects.filter(pk__in=deployment_ids).defer("secrets").order_by("pk"))
    assert len(deployments) == len(deployment_ids), "a deployment is missing"

    def batch():
        return health.evaluate_many(deployments)

    def naive():
        return {d.pk: health.evaluate(d) for d in deployments}

    result = {}
    for label, judge in (("many", batch), ("naive", naive)):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            judged = judge()
            first = (time.perf_counter() - t0) * 1000
        walls = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            judge()
            walls.append((time.perf_counter() - t0) * 1000)
        result[label] = {"first_ms": first, "ms": walls, "queries": len(queries), "judged": judged}

    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        response = client.get("/api/v1/deployments/health/")
        result["api_ms"] = (time.perf_counter() - t0) * 1000
    assert response.status_code == 200, response.content[:500]
    body = response.json()  # a page like every list ({"count", "results", …}); a bare list before it was paged
    rows = body["results"] if isinstance(body, dict) else body
    result["api_rows"], result["api_queries"] = len(rows), len(queries)
    assert len(rows) == len(deployment_ids), f"the health list shows {len(rows)} of {len(deployment_ids)} deployments"

    judged = result["many"]["judged"]
    same = all(judged[pk].status == result["naive"]["judged"][pk].status for pk in judged)
    assert same, "evaluate_many and evaluate() disagree"
    result["statuses"] = Counter(h.status for h in judged.values())
    result["findings"] = Counter(f.kind for h in judged.values() for f in h.findings)
    return result


# --- (g) drift to finding -----------------------------------------------------------------------


def _health(client, deployment) -> dict:
    response = client.get(f"/api/v1/deployments/{deployment.pk}/health/")
    assert response.status_code == 200, response.content[:500]
    return response.json()


def _finding(body: dict, kind: str, name: str):
    return next((f for f in body["findings"] if f["kind"] == kind and any(o["name"] == name for o in f["objects"])), None)


def drifts(sim, client, deployment, vm_name: str, count: int, answers) -> dict:
    from inventory.clients.vsphere import disconnect, wait_for_tasks

    si = _session(sim)
    totals, vcenter_share, ours, back = [], [], [], []
    try:
        vm = _vm_named(si, vm_name)
        if vm is None:
            raise RuntimeError(f"{vm_name} is not in vCenter")
        before_body = _health(client, deployment)
        if _finding(before_body, "vm_powered_off", vm_name):
            raise RuntimeError(f"{vm_name} is already found powered off")
        for _ in range(count):
            before = len(answers.times)
            t0 = time.monotonic()
            wait_for_tasks(si, [vm.PowerOffVM_Task()], 60)
            _eventually(lambda: _finding(_health(client, deployment), "vm_powered_off", vm_name),
                        f"{vm_name} found powered off", 120)
            seen = time.monotonic()
            answer = next((t for t in answers.times[before:] if t >= t0), seen)
            totals.append((seen - t0) * 1000)
            vcenter_share.append((answer - t0) * 1000)
            ours.append((seen - answer) * 1000)
            t1 = time.monotonic()
            wait_for_tasks(si, [vm.PowerOnVM_Task()], 60)
            _eventually(lambda: not _finding(_health(client, deployment), "vm_powered_off", vm_name),
                        f"{vm_name} no longer found powered off", 120)
            back.append(time.monotonic() - t1)
        status = _health(client, deployment)["status"]
    finally:
        disconnect(si)
    return {"total": totals, "vcenter": vcenter_share, "ours": ours, "back": back, "before": before_body["status"],
            "after": status}


# --- (d), (h) the repair of one missing VM ------------------------------------------------------


def repair_missing(sim, client, deployment, vm_name: str) -> dict:
    from deployments.models import Run
    from inventory.clients.vsphere import disconnect, wait_for_tasks

    si = _session(sim)
    try:
        vm = _vm_named(si, vm_name)
        gone = vm._moId
        wait_for_tasks(si, [vm.PowerOffVM_Task()], 60)
        t0 = time.monotonic()
        wait_for_tasks(si, [vm.Destroy_Task()], 60)
        finding = _eventually(lambda: _finding(_health(client, deployment), "vm_missing", vm_name),
                              f"{vm_name} found missing", 120)
        found_s = time.monotonic() - t0
        asked = time.time()
        answer = client.post(f"/api/v1/deployments/{deployment.pk}/repairs/", json.dumps({"finding": finding["id"]}),
                             content_type="application/json")
        started = time.time()
        if answer.status_code != 202:
            raise RuntimeError(f"the repair was refused: {answer.status_code} {answer.content[:300]!r}")
        run = _wait(Run.objects.get(deployment=deployment, number=answer.json()["run"]))
        wall = run.finished_at.timestamp() - started
        t1 = time.monotonic()
        healthy = True
        try:
            _eventually(lambda: _health(client, deployment)["status"] == "healthy", "healthy after the repair", 60)
        except RuntimeError:
            healthy = False
        healthy_s = time.monotonic() - t1
        again = _vm_named(si, vm_name)
    finally:
        disconnect(si)
    steps = list(run.steps.order_by("started_at", "id").values("key", "kind", "host", "weight", "depends_on",
                                                                "started_at", "finished_at", "status"))
    return {"run": run, "finding": finding["id"], "found_s": found_s, "request_s": started - asked, "wall": wall,
            "started": started, "steps": steps, "healthy": healthy, "healthy_s": healthy_s,
            "new_moid": again._moId if again is not None and again._moId != gone else ""}


def _floor(run, duration) -> float:
    from django.conf import settings

    steps = list(run.steps.values("key", "kind", "host", "weight", "depends_on"))
    return list_schedule(steps, duration, settings.VIO_ENGINE_PARALLEL_PER_VCENTER, settings.VIO_ENGINE_PARALLEL_PER_HOST)


def step_breakdown(repair: dict) -> tuple[list[tuple], float]:
    """[(key, kind, start offset s, duration s)] of the repair's steps, and the seconds of its wall no
    step was running (scheduling, dispatch, the run's start and end)."""
    rows, spans = [], []
    for step in repair["steps"]:
        if not step["started_at"] or not step["finished_at"]:
            continue
        begin, end = step["started_at"].timestamp(), step["finished_at"].timestamp()
        rows.append((step["key"], step["kind"], begin - repair["started"], end - begin))
        spans.append((begin, end))
    busy, cursor = 0.0, repair["started"]
    for begin, end in sorted(spans):
        begin = max(begin, cursor)
        if end > begin:
            busy += end - begin
            cursor = end
    return rows, max(0.0, repair["wall"] - busy)


# --- the whole benchmark ------------------------------------------------------------------------


def _repair_rows(repair: dict) -> tuple[dict, float, str, float]:
    """{key: (start offset, duration)}, the idle seconds, and the dominant part with its seconds."""
    rows, idle = step_breakdown(repair)
    by_kind = Counter()
    for _, kind, _, seconds in rows:
        by_kind[kind] += seconds
    parts = dict(by_kind, **{"no step running": idle})
    top = max(parts, key=parts.get)
    return {key: (offset, seconds) for key, _, offset, seconds in rows}, idle, top, parts[top]


def report(options, env, sim, real, made, judged, drift, alone, crowded, delays) -> None:
    many, naive = judged["many"], judged["naive"]
    many_ms, naive_ms = statistics.median(many["ms"]), statistics.median(naive["ms"])
    full_floor = _floor(real["run"], lambda s: delays.get(s["kind"], 0) / 1000)
    adopting = lambda s: 0.0 if s["kind"] == "import_ova" else delays.get(s["kind"], 0) / 1000  # noqa: E731
    ratio = alone["wall"] / real["wall"]
    inventory = sim.inventory

    print()
    print(f"{env.database}; model {options.model} ({inventory.get('hosts')} hosts, {inventory.get('vms')} VMs); "
          f"delays (ms): " + ", ".join(f"{k} {v}" for k, v in delays.items()))
    print(f"{DEPLOYMENTS} deployments: the real one ({options.topology}) and {len(made['deployments'])} of "
          f"{made['per_deployment']} model VMs each ({made['vms']} VMs renamed and tagged on {made['hosts']} hosts, "
          f"{made['rules']} rules on Management; {made['seconds']:.1f} s to make)")
    print()
    print(f"{'health of 100 deployments':40}{'evaluate_many':>15}{'evaluate() x100':>17}{'naive / many':>14}")
    print(f"{'  wall, median of ' + str(options.repeats) + ' (ms)':40}{many_ms:15.1f}{naive_ms:17.1f}{naive_ms / many_ms:13.1f}x")
    print(f"{'  wall, best (ms)':40}{min(many['ms']):15.1f}{min(naive['ms']):17.1f}{min(naive['ms']) / min(many['ms']):13.1f}x")
    print(f"{'  wall, first call (ms)':40}{many['first_ms']:15.1f}{naive['first_ms']:17.1f}"
          f"{naive['first_ms'] / many['first_ms']:13.1f}x")
    print(f"{'  SQL queries':40}{many['queries']:15d}{naive['queries']:17d}{naive['queries'] / max(many['queries'], 1):13.1f}x")
    print(f"{'  goal: under 1000 ms':40}{'met' if many_ms < 1000 else 'MISSED':>15}{'met' if naive_ms < 1000 else 'missed':>17}")
    print(f"  GET /api/v1/deployments/health/ (all {judged['api_rows']}): {judged['api_ms']:.1f} ms, "
          f"{judged['api_queries']} queries")
    print("  statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(judged["statuses"].items()))
          + "; findings: " + (", ".join(f"{k} {v}" for k, v in sorted(judged["findings"].items())) or "none"))
    print()
    print(f"{'drift to finding (watcher live)':40}{'p95':>10}{'median':>10}{'max':>10}")
    for label, key in (("  total: power-off call to API (ms)", "total"), ("  of it vCenter's (simulator) (ms)", "vcenter"),
                       ("  of it ours: update to API (ms)", "ours")):
        values = drift[key]
        print(f"{label:40}{p95(values):10.0f}{statistics.median(values):10.0f}{max(values):10.0f}")
    print(f"{'  power-on call to finding gone (ms)':40}{p95(drift['back']) * 1000:10.0f}"
          f"{statistics.median(drift['back']) * 1000:10.0f}{max(drift['back']) * 1000:10.0f}")
    print(f"  {len(drift['total'])} drifts of {options.drift_vm} among the 100, API polled every {POLL * 1000:.0f} ms; "
          f"goal p95 <= 2000 ms: {'met' if p95(drift['total']) <= 2000 else 'MISSED'}; "
          f"health {drift['before']} before, {drift['after']} after")
    print()
    print(f"{'repair of one missing VM vs full':44}{'wall s':>8}{'floor s':>9}{'steps':>7}{'/ full':>8}{'request s':>11}")
    print(f"{'  full deployment (' + options.topology + ', alone)':44}{real['wall']:8.1f}{full_floor:9.1f}"
          f"{real['run'].steps.count():7d}{'':>8}{real['request_s']:11.2f}")
    for label, repair in (("alone", alone), ("among the 100", crowded)):
        floor = _floor(repair["run"], adopting)
        print(f"{'  repair ' + options.repair_vm + ', ' + label:44}{repair['wall']:8.1f}{floor:9.1f}"
              f"{len(repair['steps']):7d}{repair['wall'] / real['wall']:8.3f}{repair['request_s']:11.2f}")
    print(f"  repair / full, same conditions (alone): {ratio:.3f} (floors: "
          f"{_floor(alone['run'], adopting) / full_floor if full_floor else 0:.3f}); goal <= 0.15: "
          f"{'met' if ratio <= 0.15 else 'MISSED'}")
    for label, repair in (("alone", alone), ("among the 100", crowded)):
        print(f"  {label}: found missing {repair['found_s']:.2f} s after Destroy_Task; made again as "
              f"{repair['new_moid'] or '?'}; healthy again: {'yes' if repair['healthy'] else 'NO'} "
              f"({repair['healthy_s']:.1f} s after the run)")
    (rows_a, idle_a, top_a, top_a_s), (rows_c, idle_c, top_c, top_c_s) = _repair_rows(alone), _repair_rows(crowded)
    print(f"  {'repair step':34}{'alone: at s':>12}{'lasts s':>9}{'share':>7}{'among 100: lasts s':>20}{'share':>7}")
    for key, (offset, seconds) in rows_a.items():
        other = rows_c.get(key, (0.0, 0.0))[1]
        print(f"  {key[:34]:34}{offset:12.2f}{seconds:9.2f}{100 * seconds / alone['wall']:6.0f}%"
              f"{other:20.2f}{100 * other / crowded['wall']:6.0f}%")
    print(f"  {'no step running (dispatch, gaps)':34}{'':12}{idle_a:9.2f}{100 * idle_a / alone['wall']:6.0f}%"
          f"{idle_c:20.2f}{100 * idle_c / crowded['wall']:6.0f}%")
    print(f"  dominant alone: {top_a} ({top_a_s:.2f} s, {100 * top_a_s / alone['wall']:.0f}%); among the 100: {top_c} "
          f"({top_c_s:.2f} s, {100 * top_c_s / crowded['wall']:.0f}%)")
    print(f"health_100_ms={many_ms:.0f} drift_to_finding_p95_ms={p95(drift['total']):.0f} repair_vs_full={ratio:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="5k", help="simulator model: " + ", ".join(MODELS))
    parser.add_argument("--drifts", type=int, default=20, help="power-offs timed to their finding")
    parser.add_argument("--repeats", type=int, default=5, help="timed evaluations of the 100 (after one warm-up)")
    parser.add_argument("--quick", action="store_true", help="3,000-VM model, delays x0.2, 3 drifts, 3 repeats (CI)")
    options = parser.parse_args()
    if options.quick:
        options.model, options.drifts, options.repeats = "quick", 3, 3
    if options.model not in MODELS:
        parser.error(f"unknown model {options.model}")
    scale = 0.2 if options.quick else 1.0
    options.topology = "ha"
    delays = {kind: int(ms * scale) for kind, ms in DELAYS_MS.items()}

    signal.signal(signal.SIGTERM, interrupted)
    env = prepare("bench_health")
    os.environ["VIO_OVA_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the OVA is served on loopback
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    # The watcher as production runs it, with a long poll short enough for the benchmark to end promptly.
    os.environ.setdefault("VIO_WATCH_POLL_SECONDS", "2")
    workers = sim = server = watching = None
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        from django.conf import settings

        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # no pages here: nothing collected
        answers = Answers()
        workers = Workers(count=2, concurrency=3)
        workers.start()
        ova_url, server = serve_ova(env.data_dir)
        started = time.monotonic()
        sim = start_simulator(delays, *MODELS[options.model], timeout=600)
        print(f"simulator {options.model}: {sim.inventory} ready in {time.monotonic() - started:.1f} s", flush=True)
        started = time.monotonic()
        vcenter = registered_vcenter(sim, "bench-health")
        print(f"vCenter registered and synced in {time.monotonic() - started:.1f} s", flush=True)

        real = full_deployment(sim, options.topology, ova_url)
        print(f"full deployment ({options.topology}) in {real['wall']:.1f} s", flush=True)
        deployment = real["deployment"]
        names = [vm["name"] for vm in real["run"].plan["vms"]]
        options.drift_vm = names[0]
        options.repair_vm = next((n for n in names if n.endswith("-memcache-02")), names[-1])

        # The 99 made before the watcher starts (see make_deployments), their rules only after the
        # repair alone: until then the management cluster holds the real deployment's rules only.
        made = make_deployments(sim, vcenter, real, ova_url, DEPLOYMENTS - 1)
        print(f"{len(made['deployments'])} deployments made on {made['vms']} model VMs in {made['seconds']:.1f} s", flush=True)
        watching = Watching(vcenter)
        live_s = watching.start()
        from inventory.models import VirtualMachine

        ids = [str(d.pk) for d in made["deployments"]]
        _eventually(lambda: VirtualMachine.objects.filter(vcenter=vcenter, deployment_id__in=ids).count() == made["vms"],
                    "every tagged VM in the picture", 120)
        print(f"watcher live in {live_s:.1f} s", flush=True)
        user, _ = get_user_model().objects.get_or_create(username="bench-health", defaults={"is_superuser": True})
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        _eventually(lambda: _health(client, deployment)["status"] == "healthy", "the real deployment healthy", 60)

        alone = repair_missing(sim, client, deployment, options.repair_vm)
        print(f"repair of {options.repair_vm}, alone, in {alone['wall']:.1f} s", flush=True)
        rules_s = add_rules(sim, made)
        made["seconds"] += rules_s
        print(f"{made['rules']} rules added, in the picture after {rules_s:.1f} s", flush=True)

        judged = health_of_many([deployment.pk, *(d.pk for d in made["deployments"])], client, options.repeats)
        print(f"health of {DEPLOYMENTS}: evaluate_many {statistics.median(judged['many']['ms']):.1f} ms, "
              f"evaluate() x{DEPLOYMENTS} {statistics.median(judged['naive']['ms']):.1f} ms", flush=True)
        drift = drifts(sim, client, deployment, options.drift_vm, options.drifts, answers)
        print(f"{options.drifts} drifts: p95 {p95(drift['total']):.0f} ms", flush=True)
        crowded = repair_missing(sim, client, deployment, options.repair_vm)
        print(f"repair of {options.repair_vm}, among the 100, in {crowded['wall']:.1f} s", flush=True)

        report(options, env, sim, real, made, judged, drift, alone, crowded, delays)
        errors = workers.errors()
        if errors:
            print("worker errors:\n" + "".join(errors[:20]), file=sys.stderr)
    finally:
        if watching is not None:
            watching.end()
        if workers is not None:
            workers.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
        if sim is not None:  # after the workers: their shutdown logs out of its sessions
            sim.stop(timeout=60)
        from django.db import connections

        connections.close_all()
        env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
