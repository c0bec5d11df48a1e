"""Start and stop the bundled simulators as child processes (tests, benchmarks, `make demo`)."""

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VCSIM_BINARY = Path(os.environ.get("VIO_VCSIM_BINARY", ROOT / "var" / "bin" / "vcsim"))


class SimulatorError(RuntimeError):
    pass


class StoppableProcess:
    process: subprocess.Popen

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


def _spawn(command: list[str], what: str, timeout: float, env: dict | None = None) -> tuple[subprocess.Popen, dict, list]:
    """Start a simulator and wait for the one JSON line it prints when ready."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr_lines: list[str] = []
    # Drain stderr so a chatty simulator never blocks on a full pipe.
    drain = threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True)
    drain.start()
    ready: dict = {}
    reader = threading.Thread(target=lambda: ready.update(json.loads(process.stdout.readline() or "{}")), daemon=True)
    reader.start()
    reader.join(timeout)
    if not ready:
        process.kill()
        process.wait()
        drain.join(5)  # its last words (why it could not start) are the useful part
        raise SimulatorError(f"{what} did not become ready:\n" + "".join(stderr_lines[-20:]))
    return process, ready, stderr_lines


@dataclass
class RunningSimulator(StoppableProcess):
    process: subprocess.Popen
    url: str
    host: str
    port: int
    username: str
    password: str
    fingerprint: str
    control_url: str
    stderr_lines: list[str] = field(default_factory=list)

    @classmethod
    def from_ready_line(cls, process, ready: dict, stderr_lines: list, username: str, password: str, **extra):
        return cls(process=process, url=ready["url"], host=ready["host"], port=int(ready["port"]), username=username,
                   password=password, fingerprint=ready["fingerprint_sha256"], control_url=ready["control_url"],
                   stderr_lines=stderr_lines, **extra)


@dataclass
class RunningVcsim(RunningSimulator):
    inventory: dict = field(default_factory=dict)
    startup_seconds: float = 0.0


def start_vcsim(*args: str, username="administrator@vsphere.local", password="VMware1!", timeout=120.0) -> RunningVcsim:
    """Start var/bin/vcsim with extra flags and wait for its ready line."""
    if not VCSIM_BINARY.exists():
        raise SimulatorError(f"{VCSIM_BINARY} is missing: build it with `make vcsim`.")
    # The password goes through the environment, not argv, so it never shows in `ps`.
    process, ready, stderr_lines = _spawn(
        [str(VCSIM_BINARY), "-listen", "127.0.0.1:0", "-username", username, *args],
        "vcsim", timeout, dict(os.environ, VCSIM_PASSWORD=password),
    )
    return RunningVcsim.from_ready_line(
        process, ready, stderr_lines, username, password,
        inventory=ready.get("inventory", {}), startup_seconds=float(ready.get("startup_seconds", 0.0)),
    )


# --- the NSX-v Manager emulator (simulators/nsxv) ------------------------------------------------


@dataclass
class RunningNsxv(RunningSimulator):
    version: str = ""


def start_nsxv(vcenter: RunningVcsim, *args: str, username="admin", password="VMware1!VMware1!", timeout=60.0) -> RunningNsxv:
    """Start `python -m simulators.nsxv` against a running vCenter simulator and wait for its ready line."""
    # Passwords go through the environment, not argv, so they never show in `ps`.
    env = dict(os.environ, NSXV_PASSWORD=password, NSXV_VCENTER_PASSWORD=vcenter.password)
    process, ready, stderr_lines = _spawn(
        [sys.executable, "-m", "simulators.nsxv",
         "--vcenter-host", vcenter.host, "--vcenter-port", str(vcenter.port), "--vcenter-user", vcenter.username,
         "--vcenter-fingerprint", vcenter.fingerprint, "--username", username, *args],
        "the NSX-v emulator", timeout, env,
    )
    return RunningNsxv.from_ready_line(process, ready, stderr_lines, username, password, version=ready["version"])
