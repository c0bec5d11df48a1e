"""manage.py health [DEPLOYMENT]: health from the live picture of vCenter, with each finding."""

from django.core.management.base import BaseCommand

from deployments.management import cli
from deployments.models import Deployment
from deployments.services import health


class Command(BaseCommand):
    help = "Show the health of one deployment (with its findings and their ids), or of every deployment."

    def add_arguments(self, parser):
        parser.add_argument("deployment", nargs="?", help="its id or name; all deployments when left out")

    def handle(self, *args, **options):
        if options["deployment"]:
            deployment = cli.find_deployment(options["deployment"])
            judged = health.evaluate(deployment)
            self.stdout.write(f"{deployment.name}: {judged.label}" + (f" ({judged.reason})" if judged.reason else ""))
            for finding in judged.findings:
                repair = f" [repair: {health.REPAIRS[finding.repair]}]" if finding.repair else ""
                self.stdout.write(f"  {finding.severity:<7} {finding.id}: {finding.message} {finding.advice}{repair}")
            view = judged.openstack
            if view:
                asked = f"asked at {view['checked_at']:%Y-%m-%d %H:%M:%S} UTC" if view.get("checked_at") else ""
                self.stdout.write(f"  OpenStack's own view: {view['state']}" + (f", {asked}" if asked else "")
                                  + (f" ({view['reason']})" if view.get("reason") else ""))
            return
        deployments = list(Deployment.objects.order_by("name").defer("secrets"))
        judged = health.evaluate_many(deployments)
        for deployment in deployments:
            result = judged[deployment.pk]
            self.stdout.write(f"{deployment.name:<33} {result.label:<13} {len(result.findings)} finding(s)")
