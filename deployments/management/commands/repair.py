"""manage.py repair DEPLOYMENT [--finding ID] [--wait]: a finding of health repaired through the engine."""

from django.core.management.base import BaseCommand, CommandError

from deployments.management import cli
from deployments.services import health, repairs


class Command(BaseCommand):
    help = ("Repair a finding of a deployment's health (see manage.py health DEPLOYMENT for the ids); without "
            "--finding, the first finding that has a repair. --wait follows the repair run: exit 0 when it succeeds.")

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")
        parser.add_argument("--finding", metavar="ID", help="the finding's id")
        parser.add_argument("--wait", action="store_true", help="follow the repair run's events until it ends")
        parser.add_argument("--timeout", type=float, default=0, metavar="SECONDS", help="with --wait: give up after this long")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        finding = options["finding"]
        if not finding:
            judged = health.evaluate(deployment)
            finding = next((f.id for f in judged.findings if f.repair), None)
            if finding is None:
                raise CommandError(f"Nothing to repair: {deployment.name} is {judged.label.lower()}"
                                   + (f" ({judged.reason})" if judged.reason else "") + ".")
        try:
            run = repairs.repair(deployment, finding)
        except repairs.RepairRefused as exc:
            raise CommandError(f"Not repaired: {exc}") from None
        cli.audit("deployment.repair", deployment, {"finding": finding, "run": run.number})
        self.stdout.write(f"Repairing {finding}: run {run.number} started with {run.steps.count()} steps.")
        if options["wait"]:
            self.stdout.write(cli.outcome(deployment, run, cli.follow(self.stdout, run, timeout=options["timeout"])))
