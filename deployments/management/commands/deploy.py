"""manage.py deploy --spec FILE [--wait]: the same validation and launch as the API and the wizard."""

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from deployments.management import cli
from deployments.services import launch, templates
from inventory.models import VCenter


def spec_and_acknowledged(document: dict) -> tuple[dict, list[str]]:
    """A bare spec, an API create body ({"spec", "acknowledge"}) or a template file with its
    secrets added (upgraded from older schema versions like an import)."""
    if not isinstance(document.get("spec"), dict):
        return document, []
    if document.get("kind") == templates.KIND:
        try:
            return templates.upgrade(document), []
        except templates.TemplateInvalid as exc:
            raise CommandError("The template is not valid:\n" + cli.issue_lines(exc.issues)) from None
    return document["spec"], list(document.get("acknowledge") or [])


class Command(BaseCommand):
    help = ("Validate a deployment spec (JSON or YAML, secrets included) and deploy it. Blocking issues are "
            "listed with their JSON paths and nothing is created (exit 1). --wait follows the run: exit 0 when it "
            "succeeds, 1 when it fails or is cancelled.")

    def add_arguments(self, parser):
        parser.add_argument("--spec", required=True, metavar="FILE",
                            help="a spec, an API create body or a template file with its secrets; '-' reads standard input")
        parser.add_argument("--wait", action="store_true", help="follow the run's events until it ends")
        parser.add_argument("--name", help="deploy under this name instead of the file's")
        parser.add_argument("--vcenter", type=int, metavar="ID", help="deploy to this registered vCenter instead of the file's")
        parser.add_argument("--acknowledge", action="extend", nargs="+", default=[], metavar="KEY",
                            help="accept these advisory warnings (code@path keys, as printed)")
        parser.add_argument("--timeout", type=float, default=0, metavar="SECONDS", help="with --wait: give up waiting after this long")

    def handle(self, *args, **options):
        data, acknowledged = spec_and_acknowledged(cli.read_document(options["spec"]))
        if options["name"]:
            data["name"] = options["name"]
        if options["vcenter"] is not None:
            vcenter = VCenter.objects.filter(pk=options["vcenter"]).first()
            if vcenter is None:
                raise CommandError(f"No registered vCenter has the id {options['vcenter']}.")
            data["vcenter"] = {"host": vcenter.host, "port": vcenter.port}
        try:
            deployment = launch.create_deployment(data, acknowledged=set(acknowledged) | set(options["acknowledge"]))
        except launch.NeedsAcknowledgement as exc:
            keys = " ".join(launch.warning_key(i) for i in exc.issues)
            raise CommandError("Not deployed: these warnings need acknowledging:\n" + cli.issue_lines(exc.issues)
                               + f"\nAccept them with: --acknowledge {keys}") from None
        except launch.SpecInvalid as exc:
            raise CommandError("Not deployed: the spec is not valid:\n" + cli.issue_lines(exc.issues)) from None
        run = deployment.latest_run
        cli.audit("deployment.create", deployment, {"name": deployment.name, "run": run.number})
        self.stdout.write(f"Deployment {deployment.name} created (id {deployment.pk}): "
                          f"{reverse('deployment-detail', args=[deployment.pk])}")
        self.stdout.write(f"Run {run.number} started with {run.steps.count()} steps.")
        if not options["wait"]:
            self.stdout.write(f"Follow it with: manage.py status {deployment.name} --follow")
            return
        final = cli.follow(self.stdout, run, timeout=options["timeout"])
        self.stdout.write(cli.outcome(deployment, run, final))
