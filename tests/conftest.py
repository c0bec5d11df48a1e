"""Fixtures that start the real parts: the vCenter simulator, Celery worker processes, a browser,
and the small servers and registered objects many test modules share. What they are made of lives
in testkit/ (shared with benchmarks/); this file only makes fixtures of it.

`make test` provides PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL) before pytest starts.
"""

import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from inventory.clients.tls import context_trusting, fetch_certificate
from simulators.launcher import start_vcsim
from testkit import net, ova, servers
from testkit.runs import FAST_REAPER
from testkit.spec import registered_vcenter

ROOT = Path(__file__).resolve().parent.parent


# --- the vCenter simulator -------------------------------------------------------------------


class VcsimHandle:
    """A running simulator plus its fault/delay control endpoint (over the pinned certificate)."""

    def __init__(self, running):
        self.running = running
        for name in ("url", "host", "port", "username", "password", "fingerprint", "control_url", "inventory"):
            setattr(self, name, getattr(running, name))
        self._context = context_trusting(fetch_certificate(self.host, self.port).der)

    def control(self, verb: str, **params) -> tuple[int, str]:
        query = urllib.parse.urlencode(params)
        conn = http.client.HTTPSConnection(self.host, self.port, context=self._context, timeout=10)
        try:
            conn.request(verb, "/vcsim/fault" + (f"?{query}" if query else ""))
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    def inject(self, **params) -> None:
        status, body = self.control("POST", **params)
        assert status == 201, body

    def clear_faults(self) -> None:
        status, body = self.control("DELETE")
        assert status == 204, body

    def connect(self, **overrides):
        from inventory.clients.vsphere import connect

        kwargs = dict(host=self.host, port=self.port, username=self.username, password=self.password, fingerprint=self.fingerprint)
        kwargs.update(overrides)
        return connect(**kwargs)


@pytest.fixture(scope="session")
def vcsim():
    """One simulator for the whole session: tests must not depend on objects other tests make."""
    running = start_vcsim()
    yield VcsimHandle(running)
    running.stop()


def _started_by_test(start, handle):
    """A start(*args, **kwargs) for a test; whatever it started is stopped after the test."""
    started = []

    def start_one(*args, **kwargs):
        running = start(*args, **kwargs)
        started.append(running)
        return handle(running)

    return start_one, started


@pytest.fixture
def vcsim_factory():
    """Start fresh simulators (clean inventory, or other flags); all are stopped after the test."""
    start, started = _started_by_test(start_vcsim, VcsimHandle)
    yield start
    for running in started:
        running.stop()


@pytest.fixture
def vcenter_si(vcsim):
    from inventory.clients.vsphere import disconnect

    si = vcsim.connect()
    yield si
    vcsim.clear_faults()
    disconnect(si)


@pytest.fixture
def synced_vcenter(vcsim):
    """The session simulator's vCenter, registered, pinned and synced."""
    return registered_vcenter(vcsim)


# --- small servers ---------------------------------------------------------------------------


@pytest.fixture
def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on."""
    return net.free_port()


@pytest.fixture
def https_server():
    """An HTTPS web server on 127.0.0.1 that is not a vSphere endpoint (its port: .port)."""
    server = servers.NotVCenterServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def appliance_ova(tmp_path_factory) -> Path:
    """The project's appliance OVA (scripts/build-ova.sh), built once for the session."""
    path = tmp_path_factory.mktemp("ova") / "vio-appliance.ova"
    seconds = ova.build_ova(path)
    print(f"built {path.name}: {path.stat().st_size} bytes in {seconds:.2f} s")
    return path


@pytest.fixture(scope="module")
def ova_url(tmp_path_factory):
    """The project's appliance OVA, built for this module and served over HTTP on loopback as an
    administrator would."""
    path = tmp_path_factory.mktemp("appliance") / "vio-appliance.ova"
    ova.build_ova(path)
    url, server = ova.serve(path)
    yield url
    server.stop()


# --- Celery worker processes ----------------------------------------------------------------


def _database_url_for(settings_dict) -> str:
    base = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    return urllib.parse.urlunsplit(base._replace(path="/" + settings_dict["NAME"]))


class WorkerProcess:
    """A `celery worker` (or `celery beat`) process in a session of its own, so a test can kill it
    and its pool children at once, as a crash would."""

    def __init__(self, process, hostname: str, queue: str):
        self.process, self.hostname, self.queue, self.log = process, hostname, queue, []
        import threading

        # Keep draining the log so the process never blocks on a full pipe.
        threading.Thread(target=lambda: self.log.extend(process.stderr), daemon=True).start()

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes: nothing gets to clean up."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self, grace: float = 30) -> None:
        """A warm shutdown (the running tasks finish), then SIGKILL after `grace` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(database_url: str, queue: str, *, concurrency: int = 1, beat: bool = False, env: dict | None = None,
                 ready: str = " ready.") -> WorkerProcess:
    """Start a worker (or, with beat=True, a beat scheduler) on the given database and queue and wait
    until it says it is ready."""
    hostname = f"{queue}-{uuid.uuid4().hex[:4]}@{os.uname().nodename}"
    environment = dict(os.environ, DATABASE_URL=database_url, CELERY_TASK_DEFAULT_QUEUE=queue, **(env or {}))
    if beat:
        command = ["beat", "--loglevel", "INFO", "--schedule", f"/tmp/vio-beat-{uuid.uuid4().hex}"]
        ready = "beat: Starting..."
    else:
        command = ["worker", "--pool", "prefork", "--concurrency", str(concurrency), "--queues", queue,
                   "--hostname", hostname, "--without-mingle", "--without-gossip", "--loglevel", "INFO"]
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "vio_manager", *command], cwd=ROOT,
                               env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    seen = []
    for line in process.stderr:
        seen.append(line)
        if ready in line:
            break
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("The Celery process did not start:\n" + "".join(seen[-20:]))
    return WorkerProcess(process, hostname, queue)


def test_database_url() -> str:
    from django.db import connection

    return _database_url_for(connection.settings_dict)


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def private_queue(settings):
    """A queue of this test's own, so only the processes this test starts take its messages; this
    process's engine settings detect a lost worker fast (testkit.runs.FAST_REAPER), as the workers
    started with that environment do."""
    from vio_manager.celery import app

    previous, queue = app.conf.task_default_queue, f"vio-recovery-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    for name, value in FAST_REAPER.items():
        setattr(settings, name, int(value))
    yield queue
    app.conf.task_default_queue = previous


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real `celery worker` process on the test database and a queue of this test session's own."""
    from vio_manager.celery import app

    if not os.environ.get("DATABASE_URL") or not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        pytest.fail("Worker tests need PostgreSQL and Redis: run them with `make test`.")
    queue = f"vio-test-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    worker = start_worker(test_database_url(), queue)
    yield worker
    worker.stop(grace=3)  # the session is over: a task still following a run (up to 20 s) need not finish


# --- browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("VIO_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"{executable} is missing: `make test` installs Debian's chromium package.")
    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run inside one.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, settings):
    # live_server serves static files through Django's finders, which know the source names only, not
    # the hashed names the manifest storage writes into pages: without this, no CSS and no script.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


ADMIN_PAGE_PASSWORD = "a-long-admin-password"


@pytest.fixture
def signed_in(page, live_server, django_user_model):
    """The browser page, signed in as a freshly made superuser "admin"."""
    django_user_model.objects.create_superuser("admin", password=ADMIN_PAGE_PASSWORD)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", ADMIN_PAGE_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    return page


# === NSX-v Manager emulator (simulators/nsxv) ================================================
# Fixtures: nsxv (one emulator for the session, on the session's vcsim), nsxv_factory (fresh
# emulators with other flags), nsxv_faults (the session emulator, its fault rules cleared after).


class NsxvHandle:
    """A running NSX-v emulator, raw HTTPS access over its pinned certificate, and its control endpoint."""

    def __init__(self, running):
        self.running = running
        for name in ("url", "host", "port", "username", "password", "fingerprint", "control_url", "version"):
            setattr(self, name, getattr(running, name))
        self.certificate_der = fetch_certificate(self.host, self.port).der
        self._context = context_trusting(self.certificate_der)

    def request(self, verb: str, path: str, headers: dict | None = None, auth: tuple[str, str] | None = None):
        """(status, headers, body bytes); Basic auth with the emulator's credentials unless auth=("", "")."""
        import base64

        user, password = auth if auth is not None else (self.username, self.password)
        all_headers = dict(headers or {})
        if user or password:
            all_headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        conn = http.client.HTTPSConnection(self.host, self.port, context=self._context, timeout=30)
        try:
            conn.request(verb, path, headers=all_headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def control(self, verb: str, endpoint: str = "/emulator/faults", **params) -> tuple[int, str]:
        query = urllib.parse.urlencode(params)
        status, _, body = self.request(verb, endpoint + (f"?{query}" if query else ""), auth=("", ""))
        return status, body.decode()

    def inject(self, **params) -> None:
        status, body = self.control("POST", **params)
        assert status == 201, body

    def clear_faults(self) -> None:
        status, body = self.control("DELETE")
        assert status == 204, body

    def set_version(self, version: str) -> None:
        status, body = self.control("POST", endpoint="/emulator/version", version=version)
        assert status == 200, body

    def client(self, **overrides):
        from inventory.clients.nsx import NsxClient

        kwargs = dict(host=self.host, port=self.port, username=self.username, password=self.password,
                      fingerprint=self.fingerprint)
        kwargs.update(overrides)
        return NsxClient(**kwargs)


@pytest.fixture(scope="session")
def nsxv(vcsim):
    """One emulator for the session, built from the session's vcsim, with 7 edges."""
    from simulators.launcher import start_nsxv

    running = start_nsxv(vcsim.running, "--edges", "7")
    yield NsxvHandle(running)
    running.stop()


@pytest.fixture
def nsxv_factory(vcsim):
    """Start fresh emulators (other flags, or another vcsim via vcenter=handle); all stopped after the test."""
    from simulators.launcher import start_nsxv

    start, started = _started_by_test(
        lambda *args, vcenter=None, **kwargs: start_nsxv((vcenter or vcsim).running, *args, **kwargs), NsxvHandle)
    yield start
    for running in started:
        running.stop()


@pytest.fixture
def nsxv_faults(nsxv):
    """The session emulator for a test that injects faults or changes its version; restored after."""
    yield nsxv
    nsxv.clear_faults()
    nsxv.set_version(nsxv.version)


# === end of the NSX-v Manager emulator section =================================================
