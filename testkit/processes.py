"""Running a benchmark (or any command) as a user would, and checking afterwards that every process
it started has ended."""

import subprocess
import time


def descendants(pid: int) -> dict:
    """{(pid, start time): command line} of the process's children, grandchildren and so on."""
    import psutil

    found = {}
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for child in children:
        try:
            found[(child.pid, child.create_time())] = " ".join(child.cmdline())
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            pass
    return found


def alive(pid: int, created: float) -> bool:
    """The same process (not a new one with a reused pid), and not a zombie."""
    import psutil

    try:
        process = psutil.Process(pid)
        return process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Watched:
    """A finished command: returncode, stdout, stderr, pid, every process it started (seen once a
    second while it ran) and those of them still running (`left`)."""

    def __init__(self, command: list[str], *, cwd, env: dict | None = None, timeout: float = 600):
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid, self.started, self.children = process.pid, [], {}
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    self.stdout, self.stderr = process.communicate(timeout=1)
                    break
                except subprocess.TimeoutExpired:
                    self.children.update(descendants(process.pid))
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{' '.join(command)} still running after {timeout} s") from None
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        self.returncode = process.returncode

    @property
    def left(self) -> list[str]:
        return [command for (pid, created), command in self.children.items() if alive(pid, created)]

    @property
    def lines(self) -> list[str]:
        return self.stdout.strip().splitlines()

    def explain(self) -> str:
        return self.stdout[-3000:] + self.stderr[-3000:]


def run_benchmark(script: str, *args: str, closing, env: dict | None = None, timeout: float = 300):
    """benchmarks/<script> run as a user runs it (from the repository, this Python): it must exit 0
    and end with a line `closing` (a compiled pattern) matches. (the Watched run, that match)"""
    import os
    import sys
    from pathlib import Path

    run = Watched([sys.executable, f"benchmarks/{script}", *args], cwd=Path(__file__).resolve().parent.parent,
                  env=env if env is not None else dict(os.environ), timeout=timeout)
    assert run.returncode == 0, run.explain()
    assert run.lines, run.explain()
    found = closing.match(run.lines[-1])
    assert found, run.lines[-1]
    return run, found
