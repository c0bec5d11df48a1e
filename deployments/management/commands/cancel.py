"""manage.py cancel DEPLOYMENT: cooperative cancel, as on the page and in the API."""

from django.core.management.base import BaseCommand, CommandError

from deployments.engine.runner import request_cancel
from deployments.management import cli


class Command(BaseCommand):
    help = "Cancel a deployment's queued or running run: running steps finish, no new step starts (exit 1 if refused)."

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        run = deployment.latest_run
        if not request_cancel(run):
            if run is None:
                raise CommandError(f"Not cancelled: {deployment.name} has no run.")
            raise CommandError(f"Not cancelled: only a queued or running run can be cancelled, and run {run.number} "
                               f"of {deployment.name} is {run.status}.")
        cli.audit("deployment.cancel", deployment, {"run": run.number})
        self.stdout.write(f"Cancelling run {run.number} of {deployment.name}: running steps finish, no new step starts.")
