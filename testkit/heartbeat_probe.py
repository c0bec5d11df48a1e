"""A step's heartbeat thread against the database in DATABASE_URL, for a test that restarts that
database under it: `python -m testkit.heartbeat_probe`. It migrates, makes one running step, starts
the engine's own Heartbeat on it and prints "ready"; when stdin closes it prints one JSON line:
the heartbeat times it read back, whether the thread still runs, and the step's final row."""

import json
import os
import sys
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vio_manager.settings")


def main() -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from deployments.engine.executor import Heartbeat, StepContext, with_database
    from deployments.models import Deployment, Run, StepRun
    from inventory.models import VCenter

    call_command("migrate", verbosity=0)
    vcenter = VCenter.objects.create(name="probe", host="127.0.0.1", port=9, username="probe", password="probe")
    deployment = Deployment.objects.create(name="probe", vcenter=vcenter, spec={}, secrets="{}")
    run = Run.objects.create(deployment=deployment, number=1, status="running", spec={})
    step = StepRun.objects.create(run=run, key="clone:probe", kind="clone", status="running", attempt=1,
                                  worker="probe:1", started_at=timezone.now(), heartbeat_at=timezone.now())
    heartbeat = Heartbeat(StepContext(step=step))
    heartbeat.start()
    connection.close()
    print("ready", flush=True)
    seen, stop = [], threading.Event()

    def watch():  # what the reaper would read, once a second
        while not stop.wait(1):
            try:
                value = with_database(lambda: StepRun.objects.filter(pk=step.pk).values_list("heartbeat_at", flat=True).get(),
                                      patience=60)
                seen.append(value.timestamp())
            except Exception as exc:  # the watcher only reports
                seen.append(f"error: {exc.__class__.__name__}")
            finally:
                connection.close()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    sys.stdin.read()  # until the test closes it
    stop.set()
    watcher.join()
    alive = heartbeat.is_alive()
    heartbeat.stop()
    print(json.dumps({"heartbeats": seen, "thread_alive": alive, "now": time.time()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
