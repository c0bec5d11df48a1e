"""manage.py retry DEPLOYMENT [--wait]: resume a failed or stopped run from where it ended."""

from django.core.management.base import BaseCommand, CommandError

from deployments.services.run_actions import Refused, resume
from deployments.management import cli


class Command(BaseCommand):
    help = ("Resume a deployment's failed or stopped run from where it ended, with the same inputs; what its done "
            "steps made is checked against vCenter first (exit 1 if refused). "
            "--wait follows it: exit 0 when it succeeds, 1 otherwise.")

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")
        parser.add_argument("--wait", action="store_true", help="follow the run's events until it ends")
        parser.add_argument("--timeout", type=float, default=0, metavar="SECONDS", help="with --wait: give up waiting after this long")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        run = deployment.latest_run
        if run is None:
            raise CommandError(f"Not retried: {deployment.name} has no run.")
        since = run.events.order_by("-sequence").values_list("sequence", flat=True).first() or 0
        try:
            resume(deployment)
        except Refused as exc:
            raise CommandError(f"Not resumed: {exc} Run {run.number} of {deployment.name} is {run.status}.") from None
        cli.audit("deployment.retry", deployment, {"run": run.number})
        self.stdout.write(f"Resuming run {run.number} of {deployment.name} from where it ended.")
        if options["wait"]:
            final = cli.follow(self.stdout, run, since=since, timeout=options["timeout"])
            self.stdout.write(cli.outcome(deployment, run, final))
