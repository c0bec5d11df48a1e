"""Timestamps of every Celery message's life, for benchmarks/deploy.py: loaded into the workers with
`celery worker --include benchmarks._probe` (and imported by the benchmark itself), it appends one
JSON line per signal to the file named by VIO_BENCH_PROBE. Nothing is written when that is unset.

publish (in the sending process; `parent` = the task that sent it), received (worker main process),
prerun and postrun (pool child). Each line: t (time.time()), ev, name, id, args, parent, pid.
"""

import json
import os
import time

from celery import current_task
from celery.signals import after_task_publish, task_postrun, task_prerun, task_received

PATH = os.environ.get("VIO_BENCH_PROBE", "")


def _write(ev: str, name: str, task_id: str, args=None, parent: str | None = None) -> None:
    if not PATH:
        return
    line = json.dumps({"t": time.time(), "ev": ev, "name": name, "id": task_id, "args": list(args or []),
                       "parent": parent, "pid": os.getpid()}) + "\n"
    with open(PATH, "a") as out:  # one short append per line: lines from many processes never interleave
        out.write(line)


@after_task_publish.connect
def _published(sender=None, headers=None, body=None, **_):
    headers = headers or {}
    args = body[0] if isinstance(body, (list, tuple)) and body else []
    parent = current_task.request.id if current_task else None
    _write("publish", sender or headers.get("task", ""), headers.get("id", ""), args, parent)


@task_received.connect
def _received(sender=None, request=None, **_):
    _write("received", request.name, request.id)


@task_prerun.connect
def _prerun(sender=None, task_id=None, task=None, args=None, **_):
    _write("prerun", task.name, task_id, args)


@task_postrun.connect
def _postrun(sender=None, task_id=None, task=None, args=None, **_):
    _write("postrun", task.name, task_id, args)
