"""manage.py diff DEPLOYMENT A B: what differs from revision A to revision B, field by field."""

from django.core.management.base import BaseCommand, CommandError

from deployments.management import cli
from deployments.services import revisions


class Command(BaseCommand):
    help = "Show the fields that differ between two revisions of a deployment (secrets only as changed)."

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")
        parser.add_argument("a", type=int, help="a revision's number")
        parser.add_argument("b", type=int, help="another revision's number")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        found = {r.number: r for r in deployment.revisions.filter(number__in=[options["a"], options["b"]])}
        for number in (options["a"], options["b"]):
            if number not in found:
                raise CommandError(f"{deployment.name} has no revision {number}.")
        changes = revisions.diff_revisions(found[options["a"]], found[options["b"]])
        for change in changes:
            self.stdout.write(f"{change['path']}: {change['old']} -> {change['new']}")
        if not changes:
            self.stdout.write("The two revisions are the same.")
