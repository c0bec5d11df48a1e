"""Start and stop the bundled simulators as child processes (tests, benchmarks, `make demo`)."""

import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VCSIM_BINARY = Path(os.environ.get("VIO_VCSIM_BINARY", ROOT / "var" / "bin" / "vcsim"))


class SimulatorError(RuntimeError):
    pass


@dataclass
class RunningVcsim:
    process: subprocess.Popen
    url: str
    host: str
    port: int
    username: str
    password: str
    fingerprint: str
    control_url: str
    inventory: dict
    startup_seconds: float
    stderr_lines: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; returns the exit code (0 on a clean stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_vcsim(*args: str, username="administrator@vsphere.local", password="VMware1!", timeout=120.0) -> RunningVcsim:
    """Start var/bin/vcsim with extra flags and wait for its ready line."""
    if not VCSIM_BINARY.exists():
        raise SimulatorError(f"{VCSIM_BINARY} is missing: build it with `make vcsim`.")
    process = subprocess.Popen(
        [str(VCSIM_BINARY), "-listen", "127.0.0.1:0", "-username", username, "-password", password, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr_lines: list[str] = []
    # Drain stderr so a chatty simulator never blocks on a full pipe.
    threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True).start()
    ready: dict = {}
    reader = threading.Thread(target=lambda: ready.update(json.loads(process.stdout.readline() or "{}")), daemon=True)
    reader.start()
    reader.join(timeout)
    if not ready:
        process.kill()
        process.wait()
        raise SimulatorError("vcsim did not become ready:\n" + "".join(stderr_lines[-20:]))
    return RunningVcsim(
        process=process,
        url=ready["url"],
        host=ready["host"],
        port=int(ready["port"]),
        username=username,
        password=password,
        fingerprint=ready["fingerprint_sha256"],
        control_url=ready["control_url"],
        inventory=ready.get("inventory", {}),
        startup_seconds=float(ready.get("startup_seconds", 0.0)),
        stderr_lines=stderr_lines,
    )

