"""Waiting on runs the engine advances in real worker processes, and what a finished run must have
left in vCenter."""

import time

# Fast failure detection for worker processes: heartbeats every second, silent for 5 s = lost,
# the reaper every 2 s (environment for start_worker(); the test's settings take the same values).
FAST_REAPER = {"VIO_ENGINE_HEARTBEAT_SECONDS": "1", "VIO_ENGINE_LOST_AFTER_SECONDS": "5", "VIO_ENGINE_REAP_SECONDS": "2"}


def wait_until(predicate, timeout: float, what: str):
    """predicate()'s first true value, asked every 50 ms; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for(run, timeout: float = 120):
    """The run, read again until it has ended (succeeded, failed or cancelled)."""
    from deployments.choices import RunStatus

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run still {run.status} after {timeout} s: "
                         f"{list(run.events.values_list('message', flat=True))[-5:]}")


def vms_named(simulator, prefix: str) -> list[dict]:
    """The simulator's VMs and templates whose names start with `prefix` (name, template flag, host)."""
    from pyVmomi import vim

    from inventory.clients.vsphere import collect

    return [row for row in collect(simulator.connect(), vim.VirtualMachine, ["name", "config.template", "runtime.host"])
            if row["name"].startswith(prefix)]


def assert_exactly_the_planned_vms(simulator, run) -> None:
    """An ended run made each VM of its plan once (no duplicate, none missing), and no step of it
    is still running."""
    from deployments.choices import StepStatus

    names = sorted(row["name"] for row in vms_named(simulator, run.deployment.name + "-"))
    assert names == sorted(run.steps.filter(kind="clone").values_list("target", flat=True)), "duplicate or missing VMs"
    assert not run.steps.filter(status=StepStatus.RUNNING).exists()
