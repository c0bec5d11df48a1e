"""A Redis server of a test's or benchmark's own (Debian's redis-server), on a free port of
127.0.0.1, without persistence: killing it loses every queued message, as a crash would."""

import shutil
import socket
import subprocess
import tempfile
import time

from testkit.net import free_port


class PrivateRedis:
    def __init__(self, port: int | None = None):
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server is missing: `make test` installs Debian's redis-server.")
        self.port = port or free_port()
        self.directory = tempfile.mkdtemp(prefix="vio-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the private Redis on port {self.port} did not come up")

    def kill(self) -> None:
        """SIGKILL: every message it held is gone."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, down_seconds: float = 0.0) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
