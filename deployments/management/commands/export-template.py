"""manage.py export-template TEMPLATE [-o FILE]: the template file, without secrets."""

import json

from django.core.management.base import BaseCommand, CommandError

from deployments.management import cli
from deployments.services.templates import export_document


class Command(BaseCommand):
    help = "Write a saved template as a template file (JSON, no secrets) to standard output or FILE."

    def add_arguments(self, parser):
        parser.add_argument("template", help="its id or name")
        parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")

    def handle(self, *args, **options):
        template = cli.find_template(options["template"])
        text = json.dumps(export_document(template.spec, template.name), indent=2) + "\n"
        if not options["output"]:
            self.stdout.write(text, ending="")
            return
        try:
            with open(options["output"], "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {options['output']}: {exc.strerror}.") from None
        self.stderr.write(f"Wrote the template {template.name} to {options['output']}.")
