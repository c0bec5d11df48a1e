"""Crash and timing campaign: deployments through the API with real processes, and at each kill point
the worker holding the step is killed with SIGKILL; then a Redis kill, a PostgreSQL restart, a vCenter
restart and a run with every vCenter delay x4. After each run the truth is counted in vCenter with
pyvmomi: duplicate VMs, and after the teardown, anything of the deployment left.

The world is the campaign's own, so it can break it: a private PostgreSQL cluster and a private Redis
(testkit), gunicorn serving the API, a Celery beat and two workers (2 pool children each) with fast
failure detection (heartbeat 1 s, lost after 6 s, reaper every 2 s), and a fresh vCenter simulator
per run with task delays (its certificate kept on disk so a restart presents the same one). A killed
worker is replaced at once, as a supervisor would.

Kill points (the moment is read from the database; the kill goes to the worker process group that
holds the step, or to every worker when no worker holds it yet):
  ova_import_upload, folders, pool, clone_in_flight, clone_just_claimed, customize, anti_affinity,
  power_on, guest_wait, bundle_rendering, between_two_steps, teardown
Events: redis_restart, postgres_restart, vcenter_restart (vCenter loses its state: the run may fail
with a clear reason, then one retry must complete it), delays_x4.

Per run: recovered (ended without a person: succeeded, or for vcenter_restart failed then completed
by one retry), duplicates (VMs beyond the plan), leftovers (after the teardown), stuck (a step still
running in an ended run, or a run that did not end), recovery (kill -> the held step started again
by another worker; for events: the service back -> the next step done). Wall time against a baseline
run with no fault, side by side.

Run: .venv/bin/python benchmarks/chaos.py [--quick] [--points a,b,...]
--quick: compact topology (2 VMs), delays x0.3, two kill points (clone_in_flight, teardown; a kill
during a customization has its own test in tests/test_engine_real_vcenter.py): what CI runs. Ends with one line:
kill_points=<n> recovered=<n> duplicates=<n> leftovers=<n> stuck=<n> max_recovery_s=<n>
"""

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOST_AFTER = 6
FAST = {"VIO_ENGINE_HEARTBEAT_SECONDS": "1", "VIO_ENGINE_LOST_AFTER_SECONDS": str(LOST_AFTER),
        "VIO_ENGINE_REAP_SECONDS": "2", "VIO_ENGINE_UNREACHABLE_SECONDS": "180"}
TASK_DELAYS = {"CloneVM_Task": 3000, "CustomizeVM_Task": 1500, "PowerOnVM_Task": 1000,
               "ReconfigureComputeResource_Task": 1500, "PowerOffVM_Task": 800, "Destroy_Task": 500}
# Calls that are not tasks: their answer comes that much later, a window to kill in.
CALL_DELAYS = [dict(method="ImportVApp", delay=3000), dict(method="CreateFolder", delay=2000),
               dict(method="CreateResourcePool", delay=2000), dict(method="CreateFilter", match="guest.ipAddress", delay=2000)]
RUN_TIMEOUT = 900
SCALE = 1.0  # the delays' factor of this campaign

KILL_POINTS = ["ova_import_upload", "folders", "pool", "clone_in_flight", "clone_just_claimed", "customize",
               "anti_affinity", "power_on", "guest_wait", "bundle_rendering", "between_two_steps", "teardown"]
EVENTS = ["redis_restart", "postgres_restart", "vcenter_restart", "delays_x4"]
QUICK_POINTS = ["clone_in_flight", "teardown"]


# --- the world ------------------------------------------------------------------------------------


class World:
    """Private PostgreSQL and Redis, the appliance's processes, and an API client."""

    def __init__(self):
        from testkit.net import free_port
        from testkit.postgres import PrivateCluster
        from testkit.redis import PrivateRedis

        self.data_dir = Path(tempfile.mkdtemp(prefix="vio-chaos-"))
        self.postgres = PrivateCluster().start()
        self.postgres.create_database()
        self.redis = PrivateRedis().start()
        self.web_port = free_port()
        from cryptography.fernet import Fernet

        os.environ.update({
            "DATABASE_URL": self.postgres.url, "CELERY_BROKER_URL": self.redis.url, "VIO_DATA_DIR": str(self.data_dir),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "VIO_FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "VIO_HTTPS": "0", "VIO_SIMULATED_HOSTS": "1", "DJANGO_DEBUG": "0", "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SETTINGS_MODULE": "vio_manager.settings", "VIO_LOG_LEVEL": "WARNING",
            "CELERY_TASK_DEFAULT_QUEUE": "chaos", **FAST,
            "VIO_OVA_ALLOWED_NETWORKS": "127.0.0.0/8",  # the OVA is served on loopback, as an administrator allows
        })
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model

        from vio_manager.access.tokens import create_token

        admin = get_user_model().objects.create_superuser("chaos", password=secrets.token_urlsafe(20))
        self.token = create_token(admin, "chaos")[1]
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = self.data_dir / "logs"
        self.logs.mkdir()
        self.start("web", [sys.executable, "-m", "gunicorn", "vio_manager.wsgi", "--bind", f"127.0.0.1:{self.web_port}",
                           "--workers", "2", "--timeout", "60"])
        self.start("beat", [sys.executable, "-m", "celery", "-A", "vio_manager", "beat", "--loglevel", "WARNING",
                            "--schedule", str(self.data_dir / "beat-schedule")])
        self.workers = 0
        for _ in range(2):
            self.new_worker()
        self.wait_for_web()

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=log,
                                   start_new_session=True)  # a process group of its own: killed as a whole
        self.processes[name] = process
        return process

    def new_worker(self) -> None:
        self.workers += 1
        name = f"worker{self.workers}"
        self.start(name, [sys.executable, "-m", "celery", "-A", "vio_manager", "worker", "--pool", "prefork",
                          "--concurrency", "2", "--queues", "chaos", "--hostname", f"{name}@localhost",
                          "--without-mingle", "--without-gossip", "--loglevel", "INFO"])

    def worker_names(self) -> list[str]:
        return [name for name, process in self.processes.items() if name.startswith("worker") and process.poll() is None]

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and its pool children at once (nothing cleans up), and start another."""
        process = self.processes.pop(name)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        self.new_worker()

    def worker_holding(self, worker: str) -> str | None:
        """Our worker whose process group holds this host:pid."""
        import psutil

        pid = int(worker.rsplit(":", 1)[-1]) if ":" in worker else None
        for name in self.worker_names():
            process = self.processes[name]
            try:
                family = {process.pid, *(c.pid for c in psutil.Process(process.pid).children(recursive=True))}
            except psutil.NoSuchProcess:
                continue
            if pid in family:
                return name
        return None

    def wait_for_web(self, timeout: float = 60) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url("/api/v1/health/"), timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not answer: see " + str(self.logs / "web.log"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def api(self, method: str, path: str, body: dict | None = None, expect=(200, 201, 202, 204)):
        """Through the API, retried while the appliance itself recovers (a database restart)."""
        import requests

        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.request(method, self.url(path), json=body, timeout=30,
                                            headers={"Authorization": f"Token {self.token}"})
                if response.status_code < 500 or time.monotonic() > deadline:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.5)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.redis.remove()
        self.postgres.remove()


# --- one vCenter simulator per run -----------------------------------------------------------------


class Simulator:
    """A fresh vcsim with the campaign's delays (scaled), restartable with the same address and
    certificate."""

    def __init__(self, directory: Path, scale: float):
        self.directory, self.scale, self.port = directory, scale, None
        directory.mkdir(parents=True, exist_ok=True)
        self.start()

    def start(self) -> None:
        from simulators.launcher import start_vcsim

        delays = ",".join(f"{method}={int(ms * self.scale)}" for method, ms in TASK_DELAYS.items())
        listen = ["-listen", f"127.0.0.1:{self.port}"] if self.port else []
        self.sim = start_vcsim("-task-delay", delays, "-cert", str(self.directory / "vcsim.pem"),
                               "-key", str(self.directory / "vcsim.key"), *listen)
        self.port = self.sim.port
        for rule in CALL_DELAYS:
            self.inject(**dict(rule, delay=int(rule["delay"] * self.scale), count=1000))

    def inject(self, **params) -> None:
        import http.client
        import urllib.parse

        from inventory.clients.tls import pinned_context

        conn = http.client.HTTPSConnection(self.sim.host, self.sim.port, timeout=10,
                                           context=pinned_context(self.sim.host, self.sim.port, self.sim.fingerprint))
        try:
            conn.request("POST", "/vcsim/fault?" + urllib.parse.urlencode(params))
            response = conn.getresponse()
            body = response.read().decode()
        finally:
            conn.close()
        if response.status != 201:
            raise RuntimeError(f"the simulator refused {params}: {body}")

    def connect(self):
        from inventory.clients.vsphere import connect

        s = self.sim
        return connect(s.host, s.port, s.username, s.password, s.fingerprint)

    def stop(self) -> None:
        self.sim.stop()


def vcenter_truth(sim: Simulator, name: str) -> dict:
    """What vCenter holds of the deployment `name`: its VMs by name, folder, pool, rules, templates."""
    from pyVmomi import vim

    from inventory.clients.vsphere import collect, disconnect

    si = sim.connect()
    try:
        vms = Counter(r["name"] for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"].startswith(name + "-"))
        templates = [r["name"] for r in collect(si, vim.VirtualMachine, ["name"]) if r["name"].startswith("vio-appliance-")]
        folders = [r["name"] for r in collect(si, vim.Folder, ["name"]) if r["name"] == f"vio-{name}"]
        pools = [r["name"] for r in collect(si, vim.ResourcePool, ["name"]) if r["name"] == f"vio-{name}"]
        rules = [rule.name for row in collect(si, vim.ClusterComputeResource, ["configurationEx"])
                 for rule in getattr(row.get("configurationEx"), "rule", None) or [] if rule.name.startswith(name + "-")]
    finally:
        disconnect(si)
    return {"vms": vms, "templates": templates, "folders": folders, "pools": pools, "rules": rules}


# --- kill points ---------------------------------------------------------------------------------


@dataclass
class Point:
    name: str
    kind: str  # the kind of step to catch
    ready: callable  # (step) -> bool: the moment to kill
    everyone: bool = False  # kill every worker (nobody holds the step yet)
    phase: str = "deploy"


def _in_checkpoint(prefix: str):
    return lambda step: any(key.startswith(prefix) and value for key, value in step.checkpoint.items())


POINTS = {p.name: p for p in [
    Point("ova_import_upload", "import_ova", lambda s: bool(s.worker and s.checkpoint.get("importing"))),
    Point("folders", "folders", lambda s: bool(s.worker)),
    # the folder is made after CreateFolder's delay; then CreateResourcePool waits its own
    Point("pool", "folders", lambda s: bool(s.worker) and time.time() - s.started_at.timestamp() > 2.5 * SCALE),
    Point("clone_in_flight", "clone", lambda s: bool(s.worker and s.checkpoint.get("clone_task"))),
    Point("clone_just_claimed", "clone", lambda s: not s.worker, everyone=True),
    Point("customize", "customize", lambda s: bool(s.worker and s.checkpoint.get("customize_task"))),
    Point("anti_affinity", "anti_affinity", lambda s: bool(s.worker) and _in_checkpoint("rule:")(s)),
    Point("power_on", "power_on", lambda s: bool(s.worker and s.checkpoint.get("power_task"))),
    Point("guest_wait", "wait_guest", lambda s: bool(s.worker)),
    Point("bundle_rendering", "render_bundle", lambda s: bool(s.worker)),
    Point("between_two_steps", "clone", lambda s: s.status == "succeeded"),
    Point("teardown", "remove_vms", lambda s: bool(s.worker) and _in_checkpoint("off:")(s), phase="teardown"),
]}


@dataclass
class Result:
    point: str
    wall_s: float = 0.0
    fired: bool = False
    recovered: bool = False
    duplicates: int = 0
    leftovers: list = field(default_factory=list)
    stuck: int = 0
    recovery_s: float | None = None
    note: str = ""


class Campaign:
    def __init__(self, world: World, ova_url: str, topology: str, scale: float):
        self.world, self.ova_url, self.topology, self.scale = world, ova_url, topology, scale
        self.count = 0

    def deploy(self, sim: Simulator) -> tuple[object, int]:
        from testkit.spec import registered_vcenter as register
        from testkit.spec import spec_for

        self.count += 1
        name = f"chaos{self.count:02d}"
        register(sim.sim, f"vc-{name}")
        body = {"spec": spec_for(sim.sim, name, self.topology, self.ova_url),
                "acknowledge": ["hostname_other_address@load_balancer.public_hostname"]}
        created = self.world.api("POST", "/api/v1/deployments/", body)
        from deployments.models import Deployment

        return Deployment.objects.get(pk=created["id"]), created["id"]

    def wait_run(self, run_id: int, watch=None) -> object:
        """Wait until the run ends, calling watch() every 20 ms meanwhile."""
        from django.db import connection

        from deployments.models import Run

        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            if watch is not None:
                watch()
            try:
                run = Run.objects.filter(pk=run_id).first()
            except Exception:  # the database restarting under us
                connection.close()
                time.sleep(0.5)
                continue
            if run is None or run.status in ("succeeded", "failed", "cancelled"):
                return run
            time.sleep(0.02)
        return Run.objects.get(pk=run_id)

    def catcher(self, point: Point, run_id_of, result: Result):
        """A watch() that kills at the point's moment, once, and measures the recovery."""
        from deployments.models import StepAttempt, StepRun

        state = {"step": None, "attempt": None, "killed_at": None}

        def watch():
            if state["killed_at"] is None:
                run_id = run_id_of()
                if run_id is None:
                    return
                wanted = StepRun.objects.filter(run_id=run_id, kind=point.kind)
                wanted = wanted.filter(status="succeeded") if point.name == "between_two_steps" else wanted.filter(status="running")
                for step in wanted:
                    if point.ready(step):
                        victims = (self.world.worker_names() if point.everyone
                                   else [self.world.worker_holding(step.worker)])
                        victims = [v for v in victims if v]
                        if not victims:
                            continue
                        for victim in victims:
                            self.world.kill_worker(victim)
                        state.update(step=step.pk, attempt=step.attempt, killed_at=time.time())
                        result.fired = True
                        break
            elif result.recovery_s is None:
                started = (StepAttempt.objects.filter(step_id=state["step"], started_at__isnull=False,
                                                      started_at__gt=_moment(state["killed_at"]))
                           .order_by("started_at").values_list("started_at", flat=True).first())
                if point.name == "between_two_steps":  # the killed worker held the run's next move
                    started = (StepAttempt.objects.filter(step__run_id=run_id_of(), started_at__gt=_moment(state["killed_at"]))
                               .order_by("started_at").values_list("started_at", flat=True).first())
                if started is not None:
                    result.recovery_s = round(started.timestamp() - state["killed_at"], 1)

        return watch

    def run_point(self, point_name: str) -> Result:
        result = Result(point_name)
        sim = Simulator(self.world.data_dir / f"sim{self.count + 1}", self.scale * (4 if point_name == "delays_x4" else 1))
        try:
            started = time.monotonic()
            deployment, _ = self.deploy(sim)
            run_id = deployment.runs.get().pk
            point = POINTS.get(point_name)
            result.fired = point_name == "delays_x4"  # the slow vCenter is the fault itself
            watch = None
            if point is not None and point.phase == "deploy":
                watch = self.catcher(point, lambda: run_id, result)
            elif point_name in ("redis_restart", "postgres_restart", "vcenter_restart"):
                watch = self.event(point_name, run_id, sim, result)
            run = self.wait_run(run_id, watch)
            if run.status == "failed" and point_name == "vcenter_restart":
                result.note = f"failed as vCenter lost its state ({run.error[:120]}); retried once"
                self.world.api("POST", f"/api/v1/deployments/{deployment.pk}/retry/")
                run = self.wait_run(run_id)
            result.recovered = run.status == "succeeded"
            if not result.recovered:
                result.note = (result.note + f" run {run.status}: {run.error[:200]}").strip()
            result.stuck += run.steps.filter(status="running").count()
            truth = vcenter_truth(sim, deployment.name)
            planned = set(run.steps.filter(kind="clone").values_list("target", flat=True))
            result.duplicates = sum(n - 1 for n in truth["vms"].values()) + len(set(truth["vms"]) - planned)
            self.teardown(deployment, sim, result, POINTS.get(point_name))
            result.wall_s = round(time.monotonic() - started, 1)  # deploy and teardown
        finally:
            sim.stop()
        return result

    def teardown(self, deployment, sim: Simulator, result: Result, point: Point | None) -> None:
        from deployments.models import Deployment, Run

        self.world.api("DELETE", f"/api/v1/deployments/{deployment.pk}/")
        teardown_id = Run.objects.filter(deployment=deployment, kind="teardown").order_by("-number").values_list("pk", flat=True).first()
        watch = self.catcher(point, lambda: teardown_id, result) if point is not None and point.phase == "teardown" else None
        run = self.wait_run(teardown_id, watch)
        if run is not None and Deployment.objects.filter(pk=deployment.pk).exists():
            result.recovered = False
            result.note = (result.note + f" teardown {run.status}: {run.error[:200]}").strip()
            result.stuck += run.steps.filter(status="running").count()
        truth = vcenter_truth(sim, deployment.name)
        result.leftovers = [*(f"VM {n}" for n in truth["vms"]), *truth["templates"], *truth["folders"], *truth["pools"],
                            *(f"rule {r}" for r in truth["rules"])]

    def event(self, name: str, run_id: int, sim: Simulator, result: Result):
        """A watch() that breaks a service once the run's clones are under way, and measures how long
        after the service is back the next step is done."""
        from django.db import connection

        from deployments.models import StepRun

        state = {"back_at": None}

        def watch():
            if state["back_at"] is None:
                if StepRun.objects.filter(run_id=run_id, kind="clone", status="succeeded").count() < 2:
                    return
                result.fired = True
                if name == "redis_restart":
                    self.world.redis.restart(down_seconds=2)
                elif name == "postgres_restart":
                    connection.close()
                    self.world.postgres.restart(down_seconds=3)
                else:
                    sim.stop()
                    time.sleep(3)
                    sim.start()
                state["back_at"] = time.time()
            elif result.recovery_s is None:
                try:
                    done = (StepRun.objects.filter(run_id=run_id, finished_at__gt=_moment(state["back_at"]))
                            .order_by("finished_at").values_list("finished_at", flat=True).first())
                except Exception:
                    connection.close()
                    return
                if done is not None:
                    result.recovery_s = round(done.timestamp() - state["back_at"], 1)

        return watch


def _moment(seconds: float):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc)


# --- the report ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="compact topology, delays x0.3, two kill points")
    parser.add_argument("--points", help="comma-separated kill points and events to run (default: all)")
    args = parser.parse_args()
    names = args.points.split(",") if args.points else (QUICK_POINTS if args.quick else KILL_POINTS + EVENTS)
    unknown = set(names) - set(KILL_POINTS) - set(EVENTS)
    if unknown:
        parser.error(f"unknown points {', '.join(sorted(unknown))}; choose from {', '.join(KILL_POINTS + EVENTS)}")
    topology, scale = ("compact", 0.3) if args.quick else ("ha", 1.0)
    global SCALE
    SCALE = scale

    world = World()
    from testkit.ova import serve_ova

    ova_url, server = serve_ova(world.data_dir)
    campaign = Campaign(world, ova_url, topology, scale)
    results = []
    try:
        print(f"chaos campaign: {topology} topology, delays x{scale:g}, lost after {LOST_AFTER} s; "
              f"logs in {world.logs}", flush=True)
        baseline = campaign.run_point("baseline")
        print(f"{'baseline (no fault)':24} wall {baseline.wall_s:6.1f} s  recovered={baseline.recovered} "
              f"leftovers={len(baseline.leftovers)} {baseline.note}", flush=True)
        for name in names:
            result = campaign.run_point(name)
            results.append(result)
            ratio = result.wall_s / baseline.wall_s if baseline.wall_s else 0.0
            print(f"{name:24} wall {result.wall_s:6.1f} s ({ratio:4.2f}x baseline)  fired={result.fired} "
                  f"recovered={result.recovered} duplicates={result.duplicates} leftovers={len(result.leftovers)} "
                  f"stuck={result.stuck} recovery={result.recovery_s} s {result.note}"
                  + (f" left: {result.leftovers}" if result.leftovers else ""), flush=True)
    finally:
        server.shutdown()
        world.close()
    fired = [r for r in results if r.fired]
    kills = [r for r in fired if r.point in KILL_POINTS]
    recoveries = [r.recovery_s for r in fired if r.recovery_s is not None]
    missed = [r.point for r in results if not r.fired]
    if missed:
        print(f"missed (the moment passed before it was seen): {', '.join(missed)}")
    print(f"kill_points={len(kills)} recovered={sum(r.recovered for r in fired)} "
          f"duplicates={sum(r.duplicates for r in results)} leftovers={sum(len(r.leftovers) for r in results)} "
          f"stuck={sum(r.stuck for r in results)} max_recovery_s={max(recoveries, default=0):g}")
    return 0 if all(r.recovered and not r.duplicates and not r.leftovers and not r.stuck for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
