"""Following vCenter tasks from steps: a task is started once, its id recorded in the step's
checkpoint at once, and followed for this worker task's share of the wait; while it still runs, the
step goes on in a new short task (FollowLater), and an attempt after a lost worker follows the same
vCenter task instead of starting a second one."""

import time
from datetime import datetime, timezone as dt_timezone

from deployments.choices import EventLevel
from deployments.engine.executor import FollowLater, StepContext, StepFailed, over_time
from inventory.clients.vsphere import TaskGone, TaskOutcome, task_outcome


def follow(ctx: StepContext, key: str, start, what: str) -> TaskOutcome | None:
    """The outcome of the vCenter task recorded under `key`, started by start() (which returns its
    moid, or None when there is nothing to do: then None is returned). Raises FollowLater while the
    task runs. A failed task's id is forgotten, so a retry starts a new one."""
    task = ctx.step.checkpoint.get(key)
    if not task:
        task = start()
        if task is None:
            return None
        ctx.save_checkpoint(**{key: task, f"{key}@": time.time()})
    started = ctx.step.checkpoint.get(f"{key}@")
    ctx.waiting(f"{what} (vCenter task {task})",
                since=datetime.fromtimestamp(started, dt_timezone.utc) if started else None)
    try:
        outcome = task_outcome(ctx.si, task, min(ctx.follow_budget(), max(1.0, ctx.seconds_left())))
    except TaskGone:
        ctx.log(f"vCenter no longer knows task {task} ({what}), as after a vCenter restart: "
                "looking again at what exists.", EventLevel.WARNING)
        ctx.save_checkpoint(**{key: None})
        raise FollowLater from None
    if outcome is None:
        if ctx.seconds_left() <= 0:
            raise StepFailed(over_time(ctx.step))
        raise FollowLater
    if not outcome.ok:
        ctx.save_checkpoint(**{key: None})
    return outcome


def moid_of(outcome: TaskOutcome) -> str | None:
    return getattr(outcome.result, "_moId", None)
