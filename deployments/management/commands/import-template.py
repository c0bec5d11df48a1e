"""manage.py import-template FILE [--name NAME]: the same checks as the upload page and the API."""

from django.core.management.base import BaseCommand, CommandError

from deployments.management import cli
from deployments.services import templates


class Command(BaseCommand):
    help = "Import a template file (JSON or YAML, any known schema version). Each invalid field is named (exit 1)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="the template file; '-' reads standard input")
        parser.add_argument("--name", default="", help="the template's name (default: the file's)")
        parser.add_argument("--description", default="")

    def handle(self, *args, **options):
        document = cli.read_document(options["file"])
        try:
            template = templates.import_template(document, name=options["name"], description=options["description"])
        except templates.TemplateInvalid as exc:
            raise CommandError(f"Not imported: {options['file']} is not a valid template:\n" + cli.issue_lines(exc.issues)) from None
        cli.audit("template.import", template, {"name": template.name, "schema_version": document.get("schema_version")})
        self.stdout.write(f"Imported the template {template.name} (id {template.pk}).")
