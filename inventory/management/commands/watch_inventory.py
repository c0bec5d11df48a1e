"""`manage.py watch_inventory`: keep every vCenter's stored picture live (one long-lived process;
run one per machine or several: the leases in the database give each vCenter exactly one watcher).
Thin: inventory/services/watcher.py does the work."""

import signal
import threading

from django.core.management.base import BaseCommand

from inventory.services.watcher import Supervisor


class Command(BaseCommand):
    help = "Keep the vCenters' inventories live with WaitForUpdatesEx (one watcher per vCenter, under a lease)."

    def add_arguments(self, parser):
        parser.add_argument("--vcenter", type=int, action="append", default=[],
                            help="watch only this vCenter id (repeatable); default: every pinned, synced vCenter")

    def handle(self, *args, vcenter, **options):
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        supervisor = Supervisor(vcenter_ids=vcenter)
        self.stdout.write(f"inventory watcher {supervisor.holder} running", ending="\n")
        self.stdout.flush()
        supervisor.run(stop)
