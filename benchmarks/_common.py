"""What the benchmarks that need real workers share: a throw-away environment (database, broker,
keys, data directory) set up before Django starts, real Celery worker processes, and their memory.

prepare() must run before django.setup(): settings read everything from the environment.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] if ordered else 0.0


@dataclass
class Environment:
    data_dir: Path
    database: str  # "postgresql <name>" or "sqlite <path>"
    broker: str  # the broker URL without credentials
    queue: str
    _drop_database: tuple | None = None

    def cleanup(self) -> None:
        if self._drop_database:
            _drop_postgres_database(*self._drop_database)
        if self.broker.startswith("redis://"):  # the queue and kombu's bindings of it
            import redis

            client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
            client.delete(self.queue, f"_kombu.binding.{self.queue}", f"_kombu.binding_permanent.{self.queue}")
            client.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _redis_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _admin_connection(url: str):
    import psycopg2

    parts = urllib.parse.urlsplit(url)
    connection = psycopg2.connect(host=parts.hostname, port=parts.port or 5432,
                                  user=urllib.parse.unquote(parts.username or ""),
                                  password=urllib.parse.unquote(parts.password or ""),
                                  dbname=parts.path.lstrip("/") or "postgres")
    connection.autocommit = True
    return connection


def _drop_postgres_database(admin_url: str, name: str) -> None:
    connection = _admin_connection(admin_url)
    try:
        with connection.cursor() as cursor:
            # WITH (FORCE): a worker killed mid-query may still hold a connection for a moment.
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def prepare(name: str, redis_db: int = 14) -> Environment:
    """Point this process (and the workers it starts) at a database, broker queue and keys of
    its own: PostgreSQL `<name>_<pid>` next to DATABASE_URL's if set, else SQLite in a temp dir;
    CELERY_BROKER_URL if set, else Redis on 127.0.0.1:6379/<redis_db>, else the filesystem broker."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"vio-{name}-"))
    os.environ["VIO_DATA_DIR"] = str(data_dir)
    os.environ["VIO_HTTPS"] = "0"
    os.environ["VIO_SIMULATED_HOSTS"] = "1"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")
    os.environ.setdefault("VIO_LOG_LEVEL", "WARNING")
    # Keys of this run only: nothing encrypted here outlives it.
    from cryptography.fernet import Fernet

    os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ["VIO_FIELD_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()

    drop = None
    base_url = os.environ.get("DATABASE_URL", "")
    if base_url.startswith(("postgres://", "postgresql://")):
        db_name = f"{name}_{os.getpid()}"
        connection = _admin_connection(base_url)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{db_name}"')
        finally:
            connection.close()
        drop = (base_url, db_name)
        ours = urllib.parse.urlsplit(base_url)._replace(path=f"/{db_name}")
        os.environ["DATABASE_URL"] = urllib.parse.urlunsplit(ours)
        database = f"PostgreSQL database {db_name}"
    else:
        os.environ.pop("DATABASE_URL", None)  # settings fall back to SQLite under VIO_DATA_DIR
        database = f"SQLite {data_dir / 'vio_manager.sqlite3'}"

    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker:
        if _redis_reachable("127.0.0.1", 6379):
            broker = os.environ["CELERY_BROKER_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
        else:
            broker = "filesystem://localhost/"  # the settings' default: a folder under VIO_DATA_DIR
    queue = f"{name}-{uuid.uuid4().hex[:8]}"  # a queue of our own: no other worker takes our tasks
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = queue
    shown = urllib.parse.urlsplit(broker)  # without credentials, to be printed
    address = f"{shown.hostname or ''}" + (f":{shown.port}" if shown.port else "")
    return Environment(data_dir, database, f"{shown.scheme}://{address}{shown.path}", queue, drop)


@dataclass
class Workers:
    """`count` real `celery worker` processes (prefork, `concurrency` children each) on our queue.

    Memory is sampled every `interval` seconds over every process of every worker (main process
    and pool children): peak RSS of the largest single process, and peak of the sum of PSS
    (proportional set size: pages the prefork children share with their parent counted once)."""

    count: int
    concurrency: int
    extra_args: tuple = ()
    interval: float = 0.2
    processes: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    peak_process_rss: float = 0.0
    peak_total_pss: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self, timeout: float = 90.0) -> None:
        """Start every worker at once and wait until each says it is ready."""
        queue = os.environ["CELERY_TASK_DEFAULT_QUEUE"]
        for index in range(self.count):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "vio_manager", "worker", "--pool", "prefork",
                 "--concurrency", str(self.concurrency), "--queues", queue, "--hostname", f"{queue}-{index}@localhost",
                 "--without-mingle", "--without-gossip", "--without-heartbeat", "--loglevel", "INFO", *self.extra_args],
                cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            ))
            self.logs.append([])
        ready = [threading.Event() for _ in self.processes]

        def drain(process, log, event):  # read its log for good, so it never blocks on a full pipe
            for line in process.stderr:
                log.append(line)
                if " ready." in line:
                    event.set()
            event.set()  # it exited

        for process, log, event in zip(self.processes, self.logs, ready):
            threading.Thread(target=drain, args=(process, log, event), daemon=True).start()
        deadline = time.monotonic() + timeout
        for process, log, event in zip(self.processes, self.logs, ready):
            event.wait(max(0.0, deadline - time.monotonic()))
            if process.poll() is not None or not any(" ready." in line for line in log):
                self.stop()
                raise RuntimeError("a Celery worker did not start:\n" + "".join(log[-20:]))
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(self.interval):
            rss, pss = 0.0, 0.0
            for process in self.processes:
                try:
                    parent = psutil.Process(process.pid)
                    family = [parent, *parent.children(recursive=True)]
                except psutil.NoSuchProcess:
                    continue
                for member in family:
                    try:
                        info = member.memory_full_info()
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        continue
                    rss = max(rss, info.rss)
                    pss += getattr(info, "pss", info.rss)
            self.peak_process_rss = max(self.peak_process_rss, rss / 2**20)
            self.peak_total_pss = max(self.peak_total_pss, pss / 2**20)

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by every worker process (main and pool children)."""
        import psutil

        total = 0.0
        for process in self.processes:
            try:
                parent = psutil.Process(process.pid)
                family = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in family:
                try:
                    times = member.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system
        return total

    def stop(self) -> None:
        self._stop.set()
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def errors(self) -> list[str]:
        return [line for log in self.logs for line in log if " ERROR" in line or "Traceback" in line]
