"""API list latency and status-polling throughput (issue 6, "Performance").

Data: one registered vCenter row (pinned, connected; no simulator), 1,000 deployments (80% succeeded,
10% failed, 5% running, 3% cancelled, 2% queued), each with 1-3 runs (1 with --quick) of the real HA
step graph (59 steps: deployments.plan.step_graph), an event per step started and per step ended,
the addresses of their VMs, and 50 templates. A viewer and an API token read it all.

  1. List latency, in process (Django's test client, the token in `Authorization: Token`: server
     time, no network): p50/p95 of each list endpoint over --requests requests, and the SQL queries
     of each with 10 and with 1,000 deployments (they must be equal: no N+1).
  2. Polling throughput over HTTP: gunicorn with 2 workers on 127.0.0.1 (the product's WSGI app with
     benchmarks/bench_settings.py, which adds the reference views of benchmarks/bench_urls.py), loaded
     by ApacheBench (`ab -k -c 16`, Debian apache2-utils) or, where ab is missing, a keep-alive
     http.client load generator in 16 processes. For each worker class, every endpoint runs --seconds
     at a time, in turn, --rounds times (so load from elsewhere on the machine hits all of them
     alike): req/s is the median round, "vs bare" the median of each round's ratio to the bare
     view's req/s in that round. Endpoints: a bare Django view (the ceiling), plain DRF,
     DRF with token authentication only, and the polls an automation makes with its token: the
     deployment (GET /api/v1/deployments/{id}/), its page snapshot (/status/?since=) and its event
     log (/events/?since=), all on a running deployment with the cursor at its last event; and each
     poll again as a client that sends the ETag of its last answer (If-None-Match: "(304)"), which
     gets 304 Not Modified while nothing changed (both sections).
     Alongside, the CPU time one request costs the gunicorn, the PostgreSQL backends and the load
     generator (sampled before and after each load), and from it "req/s if idle": the cores divided
     by that time, what the machine would answer with nothing else running. Other work on the
     machine moves req/s a lot from run to run, and the CPU time per request much less.

Run: .venv/bin/python benchmarks/api.py [--quick]   (PostgreSQL database bench_api_<pid> next to
DATABASE_URL's, postgres://vio:vio@127.0.0.1:5432/vio when unset; dropped at the end). Ends with:
list_p95_ms=<worst p95 of the default list pages, 1,000 deployments (?limit=1000 shown, not counted)>
poll_rps=<n> poll_vs_bare=<x> poll_304_rps=<n> poll_304_vs_bare=<x> (one line)
(poll: GET /api/v1/deployments/{id}/ on the first --worker-classes entry, poll_304: the same with
If-None-Match; bare: the bare view, same run).
"""

import argparse
import csv
import gc
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._common import p95, prepare  # noqa: E402
from testkit.net import free_port  # noqa: E402
from testkit.spec import ACKNOWLEDGED  # noqa: E402

DEPLOYMENTS = 1000
SMALL = 10  # deployments when the query counts are first taken
LAST_RUN_STATUS = {"succeeded": "succeeded", "failed": "failed", "running": "running", "cancelled": "cancelled",
                   "queued": "pending"}
CONCURRENCY = 16
WORKER_CLASSES = {"sync": ["--worker-class", "sync"], "gthread": ["--worker-class", "gthread", "--threads", "2"]}


# --- data -------------------------------------------------------------------------------------


def base_spec():
    """The public part of a valid HA DVS spec (secrets split off, as launch stores it) and its secrets."""
    from deployments.services.secrets import dump_with_secrets, split_secrets
    from deployments.spec import DeploymentSpec
    from testkit.spec import valid_spec

    spec = DeploymentSpec.model_validate(valid_spec(SimpleNamespace(host="127.0.0.1", port=443)))
    public, secrets = split_secrets(dump_with_secrets(spec))
    return spec, public, secrets


def make_vcenter():
    from django.utils import timezone

    from inventory.choices import ConnectionStatus
    from inventory.models import VCenter

    fingerprint = ":".join(f"{b:02X}" for b in random.Random(1).randbytes(32))
    return VCenter.objects.create(
        name="bench-vc", host="127.0.0.1", port=443, username="administrator@vsphere.local", password="bench-password",
        certificate_sha256=fingerprint, status=ConnectionStatus.CONNECTED, checked_at=timezone.now(),
        last_synced_at=timezone.now(), about={"fullName": "VMware vCenter Server 8.0.2", "version": "8.0.2"})


def status_of(index: int) -> str:
    """80% succeeded, 10% failed, 5% running, 3% cancelled, 2% queued; each among the first 10."""
    slot = index % 100
    if slot % 10 == 1:
        return "failed"
    if slot % 20 == 3:
        return "running"
    return "cancelled" if slot in (5, 45, 85) else "queued" if slot in (7, 57) else "succeeded"


def _step_rows(run, graph, status, rng, start):
    """StepRun rows for a run in this status, and the events its steps wrote (message rows)."""
    from deployments.models import StepRun

    n = len(graph)
    cut = rng.randrange(5, n - 4)
    states = {"succeeded": ["succeeded"] * n, "pending": ["pending"] * n,
              "failed": ["succeeded"] * cut + ["failed"] + ["pending"] * (n - cut - 1),
              "cancelled": ["succeeded"] * cut + ["cancelled"] + ["pending"] * (n - cut - 1),
              "running": ["succeeded"] * cut + ["running"] * 3 + ["pending"] * (n - cut - 3)}[status]
    steps, events, when = [], [(start, "info", "", f"Run {run.number} created: {n} steps for 13 VMs.")], start
    for index, (step, state) in enumerate(zip(graph, states)):
        output, started, finished, error = {}, None, None, ""
        if state != "pending":
            started = when = when + timedelta(seconds=rng.randrange(1, 30))
            events.append((started, "info", step.key, f"Step {step.key} started (attempt 1)."))
        if state in ("succeeded", "failed", "cancelled"):
            finished = when = when + timedelta(seconds=rng.randrange(1, 60))
            if state == "failed":
                error = "vim.fault.InsufficientResourcesFault: not enough memory on host-21 for this VM"
            if state == "succeeded" and step.kind == "clone":
                output = {"vm": f"vm-{run.pk}{index}"}
            elif state == "succeeded" and step.kind in ("customize", "wait_guest"):
                output = {"ip": f"10.20.0.{10 + index % 200}", "hostname": step.target}
            elif state == "succeeded" and step.kind == "power_on":
                output = {"power_state": "poweredOn"}
            level = "error" if state == "failed" else "warning" if state == "cancelled" else "info"
            events.append((finished, level, step.key, f"Step {step.key} {state}." + (f" {error}" if error else "")))
        steps.append(StepRun(run=run, key=step.key, kind=step.kind, target=step.target,
                             depends_on=list(step.depends_on), weight=step.weight, status=state,
                             attempt=1 if started else 0, started_at=started, finished_at=finished, error=error,
                             output=output))
    return steps, events


def populate(first: int, count: int, vcenter, user, max_runs: int, rng) -> None:
    """Deployments first..first+count-1 with their runs, steps, events and addresses (bulk inserts)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from deployments.models import Deployment, IpAllocation, Run, RunEvent
    from deployments.plan import build_plan, step_graph

    spec, public, secrets = base_spec()
    now = timezone.now()
    with transaction.atomic():
        deployments = Deployment.objects.bulk_create([
            Deployment(name=f"bench{i:04d}", vcenter=vcenter, spec=dict(public, name=f"bench{i:04d}"),
                       secrets=json.dumps(secrets), status=status_of(i), created_by=user,
                       acknowledged=[ACKNOWLEDGED])
            for i in range(first, first + count)])
        for deployment in deployments:  # a creation time of its own for each (auto_now_add gave them one)
            deployment.created_at = now - timedelta(minutes=7 * int(deployment.name[5:]))
        Deployment.objects.bulk_update(deployments, ["created_at"], batch_size=1000)
        plans, runs, addresses = {}, [], []
        for deployment in deployments:
            named = spec.model_copy(update={"name": deployment.name})
            plan = build_plan(named)
            plans[deployment.pk] = step_graph(named, plan)
            total = rng.randint(1, max_runs)
            for number in range(1, total + 1):
                last = number == total
                status = LAST_RUN_STATUS[deployment.status] if last else "failed"
                begun = None if status == "pending" else now - timedelta(minutes=rng.randrange(60, 40_000))
                ended = begun + timedelta(hours=2) if status not in ("pending", "running") else None
                runs.append(Run(deployment=deployment, number=number, spec=deployment.spec, status=status,
                                error="A step failed: see the failed step." if status == "failed" else "",
                                started_at=begun, finished_at=ended))
            i = int(deployment.name[5:])
            addresses += [IpAllocation(deployment=deployment, vcenter=vcenter, portgroup="VIO-Management",
                                       address=f"10.{i // 250}.{i % 250}.{10 + k}", purpose=vm.name)
                          for k, vm in enumerate(plan.vms)]
            addresses.append(IpAllocation(deployment=deployment, vcenter=vcenter, portgroup="VIO-External",
                                          address=f"172.16.{i // 250}.{i % 250}", purpose="public-vip"))
        Run.objects.bulk_create(runs, batch_size=2000)
        IpAllocation.objects.bulk_create(addresses, batch_size=5000)
        steps, events = [], []
        for run in runs:
            run_steps, run_events = _step_rows(run, plans[run.deployment_id], run.status, rng, run.started_at or now)
            steps += run_steps
            events += [RunEvent(run=run, sequence=seq, level=level, step_key=key, message=message)
                       for seq, (_, level, key, message) in enumerate(run_events, 1)]
            if len(steps) > 20000:
                type(steps[0]).objects.bulk_create(steps, batch_size=5000)
                RunEvent.objects.bulk_create(events, batch_size=5000)
                steps, events = [], []
        if steps:
            type(steps[0]).objects.bulk_create(steps, batch_size=5000)
            RunEvent.objects.bulk_create(events, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would soon: the planner sees the real row counts


def make_templates(count: int) -> None:
    from deployments.models import DeploymentTemplate

    _, public, _ = base_spec()
    DeploymentTemplate.objects.bulk_create([
        DeploymentTemplate(name=f"template-{i:02d}", description="HA with DVS, one compute cluster",
                           schema_version=public["schema_version"], spec=dict(public, name=f"tmpl{i:02d}"))
        for i in range(count)])


def viewer_with_token():
    from django.contrib.auth import get_user_model

    from vio_manager.access import roles, tokens

    user = get_user_model().objects.create_user("bench-viewer", password="bench-viewer-password-1")
    roles.set_role(user, roles.VIEWER)
    _, value = tokens.create_token(user, "benchmark")
    return user, value


# --- 1. list latency, in process ---------------------------------------------------------------


def list_endpoints(target, with_limit_1000: bool) -> dict[str, str]:
    base = f"/api/v1/deployments/{target.pk}"
    paths = {
        "deployments (page of 100)": "/api/v1/deployments/",
        "deployments ?status_group=active": "/api/v1/deployments/?status_group=active",
        "deployment runs": f"{base}/runs/",
        "deployment events (page of 100)": f"{base}/events/",
        "templates": "/api/v1/templates/",
        "vcenters": "/api/v1/vcenters/",
    }
    if with_limit_1000:
        paths["deployments ?limit=1000"] = "/api/v1/deployments/?limit=1000"
    return paths


def poll_paths(target) -> dict[str, str]:
    from deployments.models import RunEvent

    latest = target.runs.order_by("-number").first()
    cursor = RunEvent.objects.filter(run=latest).order_by("-sequence").values_list("sequence", flat=True)[0]
    base = f"/api/v1/deployments/{target.pk}"
    return {"poll: deployment": f"{base}/", "poll: status ?since": f"{base}/status/?since={cursor}",
            "poll: events ?since": f"{base}/events/?since={cursor}"}


CONDITIONAL = " (304)"  # a poll sending the ETag of its last answer (If-None-Match): nothing new


def conditional(polls: dict[str, str], etag_of) -> dict[str, tuple[str, dict]]:
    """Each poll again with If-None-Match: the ETag etag_of(path) gives (each server its own: the
    tag covers the URL the client asked for, host included)."""
    return {label + CONDITIONAL: (path, {"If-None-Match": etag_of(path)}) for label, path in polls.items()}


def _requests(paths: dict) -> dict[str, tuple[str, dict]]:
    """{label: path or (path, headers)} -> {label: (path, headers)}."""
    return {label: (value, {}) if isinstance(value, str) else value for label, value in paths.items()}


def expected_status(headers: dict) -> int:
    return 304 if "If-None-Match" in headers else 200


def query_counts(client, paths: dict) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for label, (path, headers) in _requests(paths).items():
        taken = []
        for _ in range(2):  # the fewest of two: the token's lookup (then cached) and last_used_at write come once
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path, headers=headers)
            assert response.status_code == expected_status(headers), (path, response.status_code, response.content[:300])
            taken.append(len(queries))
        counts[label] = min(taken)
    return counts


def latencies(client, paths: dict, requests: int) -> dict[str, list[float]]:
    samples = {}
    for label, (path, headers) in _requests(paths).items():
        for _ in range(3):
            client.get(path, headers=headers)  # warm: the first request of a path imports and compiles what it needs
        samples[label] = []
        for _ in range(requests):
            gc.collect()  # the test client's last response is garbage now: not this request's cost
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            samples[label].append((time.perf_counter() - started) * 1000)
            assert response.status_code == expected_status(headers), (path, response.status_code)
    return samples


# --- 2. polling throughput over HTTP -----------------------------------------------------------


class Gunicorn:
    """gunicorn with 2 workers on the benchmark's database; stopped by pid."""

    def __init__(self, worker_args: list[str], access_log: bool, health_checks: bool):
        self.port = free_port()
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="benchmarks.bench_settings",
                   VIO_BENCH_HEALTH_CHECKS="1" if health_checks else "0")
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "vio_manager.wsgi", "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
             *worker_args, *(["--access-logfile", "-"] if access_log else [])],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        try:
            self._wait_ready(deadline=time.monotonic() + 60)
        except BaseException:  # Ctrl-C included: it is not left running
            self.stop()
            raise

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited:\n" + self.output())
            try:
                if self.get("/bench/bare/")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 60 s:\n" + self.output())

    def get(self, path: str, headers: dict | None = None) -> tuple[int, bytes]:
        status, body, _ = self.get_with_headers(path, headers)
        return status, body

    def get_with_headers(self, path: str, headers: dict | None = None) -> tuple[int, bytes, http.client.HTTPMessage]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read(), response.headers
        finally:
            connection.close()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_ab(port: int, path: str, seconds: int, headers: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".csv") as percentiles:
        command = ["ab", "-q", "-k", "-c", str(CONCURRENCY), "-t", str(seconds), "-n", "10000000",
                   "-e", percentiles.name]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        result = subprocess.run(command + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                                timeout=seconds + 60)
        if result.returncode != 0:
            raise RuntimeError(f"ab failed on {path}: {result.stderr[-2000:]}")
        out = result.stdout
        with open(percentiles.name) as handle:
            rows = {int(float(p)): float(ms) for p, ms in list(csv.reader(handle))[1:]}

    def figure(pattern: str, default: str | None = None) -> str:
        found = re.search(pattern, out)
        if found is None and default is None:
            raise RuntimeError(f"ab said nothing matching {pattern!r} for {path}:\n{out[-2000:]}")
        return found.group(1) if found else default

    failed = re.search(r"\(Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)\)", out)
    errors = sum(int(n) for n in failed.groups()) if failed else 0
    non_2xx = int(figure(r"Non-2xx responses:\s+(\d+)", "0"))
    requests = int(figure(r"Complete requests:\s+(\d+)"))
    # A length that varies is no error (a running step's duration counts up). ab counts a 304 as
    # non-2xx (and one more as the time runs out): a conditional poll must get nothing but them.
    if errors or (non_2xx < requests if expected_status(headers) == 304 else non_2xx):
        raise RuntimeError(f"{path}: {errors} failed and {non_2xx} non-2xx of {requests} responses under load")
    return {"rps": float(figure(r"Requests per second:\s+([\d.]+)")), "requests": requests, "p50": rows[50],
            "p95": rows[95]}


def _client_process(port, path, headers, seconds, results):
    """One keep-alive connection, requests back to back until the time is up."""
    connection, latencies_ms = http.client.HTTPConnection("127.0.0.1", port, timeout=30), []
    deadline = time.perf_counter() + seconds
    while (started := time.perf_counter()) < deadline:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != expected_status(headers):
            results.put(("error", response.status))
            return
        latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    results.put(("ok", latencies_ms))


def run_python_client(port: int, path: str, seconds: int, headers: dict) -> dict:
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=_client_process, args=(port, path, headers, seconds, results))
                 for _ in range(CONCURRENCY)]
    for process in processes:
        process.start()
    answers = [results.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join()
    bad = [value for kind, value in answers if kind == "error"]
    if bad:
        raise RuntimeError(f"{path}: HTTP {bad[0]} under load")
    every = [ms for _, values in answers for ms in values]
    return {"rps": len(every) / seconds, "requests": len(every), "p50": statistics.median(every), "p95": p95(every)}


def cpu_seconds(server: Gunicorn, database: str) -> dict[str, float]:
    """CPU time used so far by the gunicorn (master and workers), by the PostgreSQL backends of the
    benchmark's database, and by this process's finished children (the load generator)."""
    import resource

    import psutil

    used = {"gunicorn": 0.0, "postgres": 0.0}
    try:
        master = psutil.Process(server.process.pid)
        processes = [("gunicorn", master), *(("gunicorn", child) for child in master.children(recursive=True))]
    except psutil.NoSuchProcess:
        processes = []
    for process in psutil.process_iter(["cmdline"]):
        title = " ".join(process.info["cmdline"] or [])  # "postgres: 15/main: vio <database> 127.0.0.1(port) idle"
        if title.startswith("postgres:") and f" {database} " in title:
            processes.append(("postgres", process))
    for kind, process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a backend that ended with its connection: its time is lost
            continue
        used[kind] += times.user + times.system
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used["client"] = children.ru_utime + children.ru_stime
    return used


def measured_load(server: Gunicorn, database: str, load, path: str, seconds: int, headers: dict) -> dict:
    """The load's figures, and the CPU time per request each side used: machine-wide load from
    elsewhere changes the requests/s a run gets, much less what one request costs."""
    before = cpu_seconds(server, database)
    figures = load(server.port, path, seconds, headers)
    after = cpu_seconds(server, database)
    for kind in before:
        figures[f"{kind}_ms"] = (after[kind] - before[kind]) * 1000 / max(figures["requests"], 1)
    return figures


def throughput(worker_class: str, endpoints: dict[str, tuple[str, dict]], auth: dict, options, load,
               database: str) -> dict:
    """The endpoints, and each poll among them ("poll: ...") again with If-None-Match (" (304)")."""
    server = Gunicorn(WORKER_CLASSES[worker_class], options.access_log, not options.no_health_checks)
    try:
        endpoints = dict(endpoints, **conditional(
            {label: path for label, (path, headers) in endpoints.items() if label.startswith("poll: ")},
            lambda path: server.get_with_headers(path, auth)[2]["ETag"]))
        for label, (path, headers) in endpoints.items():  # each answers right before it is loaded
            headers = dict(auth, **headers) if label.startswith("poll: ") else headers
            endpoints[label] = (path, headers)
            status, body = server.get(path, headers)
            assert status == expected_status(headers), (label, status, body[:300])
            load(server.port, path, 1, headers)  # warm-up: both workers, every code path loaded
        rounds: dict[str, list[dict]] = {label: [] for label in endpoints}
        for _ in range(options.rounds):
            for label, (path, headers) in endpoints.items():
                rounds[label].append(measured_load(server, database, load, path, options.seconds, headers))
        if server.process.poll() is not None:
            raise RuntimeError("gunicorn died under load:\n" + server.output())
    finally:
        server.stop()
    # Each endpoint's median round; its ratio to the bare view is taken round by round (the same
    # minute's load from elsewhere on both), then the median of those. CPU per request: medians.
    bare = [m["rps"] for m in rounds["bare Django view"]]
    medians = {}
    for label, measured in rounds.items():
        middle = sorted(measured, key=lambda m: m["rps"])[len(measured) // 2]
        medians[label] = dict(middle, rounds=[m["rps"] for m in measured],
                              vs_bare=statistics.median(m["rps"] / b for m, b in zip(measured, bare)),
                              **{kind: statistics.median(m[kind] for m in measured)
                                 for kind in ("gunicorn_ms", "postgres_ms", "client_ms")})
    return medians


# --- main -------------------------------------------------------------------------------------


def interrupted(signum, frame):
    raise KeyboardInterrupt  # SIGTERM ends like Ctrl-C: gunicorn stopped, database dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 run per deployment, fewer requests, shorter loads, sync workers only")
    parser.add_argument("--requests", type=int, help="timed requests per list endpoint (default 50; 15 with --quick)")
    parser.add_argument("--seconds", type=int,
                        help="seconds of load per endpoint and round (default 5; 2 with --quick)")
    parser.add_argument("--rounds", type=int, help="rounds over the endpoints (default 3; 1 with --quick)")
    parser.add_argument("--worker-classes",
                        help="comma-separated: sync, gthread (2 threads) (default sync,gthread; sync with --quick)")
    parser.add_argument("--access-log", action="store_true", help="gunicorn --access-logfile - (as scripts/run.sh)")
    parser.add_argument("--no-health-checks", action="store_true",
                        help="gunicorn's Django without CONN_HEALTH_CHECKS (no SELECT 1 before each request)")
    parser.add_argument("--python-client", action="store_true", help="the http.client load generator even if ab exists")
    options = parser.parse_args()
    options.requests = options.requests or (15 if options.quick else 50)
    options.seconds = options.seconds or (2 if options.quick else 5)
    options.rounds = options.rounds or (1 if options.quick else 3)
    classes = (options.worker_classes or ("sync" if options.quick else "sync,gthread")).split(",")
    unknown = [name for name in classes if name not in WORKER_CLASSES]
    if unknown:
        parser.error(f"unknown worker class {', '.join(unknown)}; use {', '.join(WORKER_CLASSES)}")
    use_ab = shutil.which("ab") is not None and not options.python_client
    load = run_ab if use_ab else run_python_client

    os.environ.setdefault("DATABASE_URL", "postgres://vio:vio@127.0.0.1:5432/vio")
    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        parser.error("this benchmark needs PostgreSQL: set DATABASE_URL=postgres://user:password@127.0.0.1:5432/db")
    signal.signal(signal.SIGTERM, interrupted)
    env = prepare("bench_api")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ["VIO_OVA_ALLOWED_NETWORKS"] = "127.0.0.0/8"  # the specs' OVA URL is on loopback, as an administrator allows
    (env.data_dir / "static").mkdir()  # whitenoise's STATIC_ROOT: the API serves no static files
    try:
        report(options, classes, env, load, "ApacheBench (ab -k)" if use_ab else "python http.client, keep-alive")
    finally:
        from django.db import connections

        connections.close_all()
        env.cleanup()


def report(options, classes, env, load, load_name: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from deployments.models import Deployment, Run, RunEvent, StepRun

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    rng = random.Random(6)
    max_runs = 1 if options.quick else 3
    vcenter = make_vcenter()
    user, token = viewer_with_token()
    make_templates(50)
    populate(0, SMALL, vcenter, user, max_runs, rng)
    target = Deployment.objects.filter(status="running").order_by("pk").first()
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    polls = poll_paths(target)

    def etag_of(path: str) -> str:
        return client.get(path)["ETag"]

    paths = dict(list_endpoints(target, with_limit_1000=False), **polls, **conditional(polls, etag_of))
    small = query_counts(client, paths)
    populate(SMALL, DEPLOYMENTS - SMALL, vcenter, user, max_runs, rng)
    print(f"{env.database}: {Deployment.objects.count()} deployments, {Run.objects.count()} runs, "
          f"{StepRun.objects.count()} steps, {RunEvent.objects.count()} events; "
          f"set up in {time.monotonic() - started:.1f} s")
    paths.update(conditional(polls, etag_of))  # the same tags unless the target changed: it did not
    large = query_counts(client, paths)

    lists = list_endpoints(target, with_limit_1000=True)
    samples = latencies(client, dict(lists, **polls, **conditional(polls, etag_of)), options.requests)
    session = Client(HTTP_HOST="127.0.0.1")
    session.force_login(user)
    samples.update({f"{label} (session)": values for label, values in
                    latencies(session, {"poll: status ?since": polls["poll: status ?since"]},
                              options.requests).items()})

    print(f"\n1. In process (Django test client, token auth), {options.requests} requests each, "
          f"{DEPLOYMENTS} deployments")
    print(f"{'endpoint':38} {'p50 ms':>8} {'p95 ms':>8} {'queries@10':>11} {'queries@1000':>13}   "
          f"({CONDITIONAL.strip()}: with If-None-Match, nothing new)")
    for label, values in samples.items():
        key = label.removesuffix(" (session)")
        q_small = str(small[key]) if key in small and label == key else "-"
        q_large = str(large[key]) if key in large and label == key else "-"
        print(f"{label:38} {statistics.median(values):8.1f} {p95(values):8.1f} {q_small:>11} {q_large:>13}")
    growing = [label for label in small if small[label] != large[label]]
    print("query count per page independent of the number of deployments: "
          + ("yes" if not growing else "NO: " + ", ".join(growing)))
    headline_lists = [label for label in lists if "limit=1000" not in label]
    list_p95 = max(p95(samples[label]) for label in headline_lists)
    print(f"worst list p95 (default pages; ?limit=1000 shown apart): {list_p95:.1f} ms")

    auth = {"Authorization": f"Token {token}"}
    endpoints = {"bare Django view": ("/bench/bare/", {}), "plain DRF view": ("/api/bench/drf/", {}),
                 "DRF + token auth only": ("/api/bench/token/", auth),
                 **{label: (path, auth) for label, path in polls.items()}}
    results = {}
    for worker_class in classes:
        results[worker_class] = throughput(worker_class, endpoints, auth, options, load, env.database.split()[-1])
    print(f"\n2. Over HTTP: gunicorn, 2 workers, 127.0.0.1; load: {load_name}, {CONCURRENCY} concurrent, "
          f"{options.seconds} s per endpoint x {options.rounds} round(s), median round"
          + (", access log on" if options.access_log else "")
          + (", no connection health checks" if options.no_health_checks else ""))
    cores = os.cpu_count() or 1
    print(f"{'':70}{'CPU ms per request':^26}")
    print(f"{'workers':8} {'endpoint':28} {'req/s':>6} {'p50 ms':>6} {'p95 ms':>6} {'vs bare':>7} "
          f"{'gunicorn':>9} {'postgres':>8} {'client':>7} {'req/s if idle':>13}  each round (req/s)")
    for worker_class, measured in results.items():
        for label, figures in measured.items():
            cpu = figures["gunicorn_ms"] + figures["postgres_ms"] + figures["client_ms"]
            print(f"{worker_class:8} {label:28} {figures['rps']:6.0f} {figures['p50']:6.1f} {figures['p95']:6.1f} "
                  f"{figures['vs_bare']:7.2f} {figures['gunicorn_ms']:9.3f} {figures['postgres_ms']:8.3f} "
                  f"{figures['client_ms']:7.3f} {cores * 1000 / cpu if cpu else 0:13.0f}  "
                  f"{' '.join(f'{r:.0f}' for r in figures['rounds'])}")
    print(f"req/s if idle: {cores} cores / (the CPU time of one request, server and client): what this machine "
          "would answer with nothing else running")
    if len(results) > 1:
        best = max(results, key=lambda name: results[name]["poll: deployment"]["rps"])
        print(f"most polls/s: {best} workers")
    headline = results[classes[0]]
    poll, conditional_poll = headline["poll: deployment"], headline["poll: deployment" + CONDITIONAL]
    print(f"\npoll = GET /api/v1/deployments/{{id}}/ with a token, {classes[0]} workers (median round); "
          "poll_vs_bare = the median over rounds of poll/bare in the same round; poll_304 = the same poll "
          "with the ETag of its last answer (If-None-Match), nothing new: 304")
    print(f"list_p95_ms={list_p95:.1f} poll_rps={poll['rps']:.0f} poll_vs_bare={poll['vs_bare']:.2f} "
          f"poll_304_rps={conditional_poll['rps']:.0f} poll_304_vs_bare={conditional_poll['vs_bare']:.2f}")


if __name__ == "__main__":
    main()
