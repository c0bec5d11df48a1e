"""manage.py revisions DEPLOYMENT: every spec the deployment was given, and which one it runs."""

from django.core.management.base import BaseCommand

from deployments.management import cli


class Command(BaseCommand):
    help = "List a deployment's spec revisions, oldest first; * marks the one its cloud runs."

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        for revision in deployment.revisions.select_related("created_by").order_by("number"):
            mark = "*" if revision.number == deployment.current_revision else " "
            who = revision.created_by.get_username() if revision.created_by else "-"
            applied = f"applied {revision.applied_at:%Y-%m-%d %H:%M}" if revision.applied_at else "not applied"
            self.stdout.write(f"{mark} {revision.number:>3}  {revision.created_at:%Y-%m-%d %H:%M}  {who:<12} "
                              f"{applied:<24} {revision.note}")
