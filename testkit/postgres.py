"""A PostgreSQL cluster of a test's or benchmark's own (Debian's server binaries), on a free port of
127.0.0.1, so it can restart the database under a running system without touching anyone else's."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from testkit.net import free_port


def _binaries() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL's server binaries are missing: `make test` installs Debian's postgresql.")
    return versions[-1].parent


class PrivateCluster:
    """initdb, start, restart, stop. PostgreSQL refuses to run as root: as root, the cluster belongs
    to the postgres user (its directory is made for it)."""

    def __init__(self, port: int | None = None):
        self.bin = _binaries()
        self.port = port or free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="vio-pg-"))
        self.data = self.directory / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.directory, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "vio", "--auth=trust", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgres://vio@127.0.0.1:{self.port}/vio"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.directory)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr.strip()[-500:]}")

    def start(self) -> "PrivateCluster":
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.directory / "log"), "-w", "start")
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the private PostgreSQL on port {self.port} did not come up")

    def create_database(self, name: str = "vio") -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "vio", name)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop (every connection is cut), stay down a while, start again on the same port."""
        self.stop("immediate")
        time.sleep(down_seconds)
        self.start()

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass  # not running
        shutil.rmtree(self.directory, ignore_errors=True)


def database_names(url: str) -> set[str]:
    """The names of the databases on the server of this postgres:// URL (as its user sees them)."""
    import urllib.parse

    import psycopg2

    parts = urllib.parse.urlsplit(url)
    connection = psycopg2.connect(host=parts.hostname, port=parts.port or 5432,
                                  user=urllib.parse.unquote(parts.username or ""),
                                  password=urllib.parse.unquote(parts.password or ""), dbname=parts.path.lstrip("/"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT datname FROM pg_database")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()
