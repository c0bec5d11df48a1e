from django.core.management.base import BaseCommand, CommandError

from vio_manager.services import WorkerUnavailable, ping_worker


class Command(BaseCommand):
    help = "Send a ping through the Celery broker and wait for a worker to answer (exit 1 if none does)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")

    def handle(self, *args, timeout, **options):
        try:
            probe = ping_worker(timeout=timeout)
        except WorkerUnavailable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"worker {probe.worker} answered in {probe.round_trip_seconds:.3f} s")
