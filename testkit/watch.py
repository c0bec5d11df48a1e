"""The live inventory's watcher in a test's own process: inventory.services.watcher.Supervisor in a
thread, as `manage.py watch_inventory` runs it, stopped when the block ends."""

import contextlib
import threading

from inventory.services.watcher import Supervisor


@contextlib.contextmanager
def watching(*vcenter_ids):
    stop, running = threading.Event(), Supervisor(list(vcenter_ids))
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield running
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the supervisor did not stop"
