"""manage.py change DEPLOYMENT (--spec FILE | --revision N) [--preview] [--wait]: the same reviewed
change as the API and the wizard's edit mode: only the difference is applied, in a change run."""

from django.core.management.base import BaseCommand, CommandError

from deployments.management import cli
from deployments.services import changes, launch


class Command(BaseCommand):
    help = ("Change a deployed cloud to a new spec (JSON or YAML; a secret left out keeps its value), or roll it "
            "back to an earlier revision. The difference is printed; blocking issues refuse (exit 1). --preview "
            "stops there; --wait follows the change run: exit 0 when it succeeds, 1 otherwise.")

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--spec", metavar="FILE", help="the whole new spec; '-' reads standard input")
        what.add_argument("--revision", type=int, metavar="N", help="go back to this earlier revision")
        parser.add_argument("--note", default="", help="why, for the revision's history")
        parser.add_argument("--preview", action="store_true", help="show what would change and stop")
        parser.add_argument("--acknowledge", action="extend", nargs="+", default=[], metavar="KEY",
                            help="accept these advisory warnings (code@path keys, as printed)")
        parser.add_argument("--wait", action="store_true", help="follow the change run's events until it ends")
        parser.add_argument("--timeout", type=float, default=0, metavar="SECONDS", help="with --wait: give up after this long")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        try:
            data = (changes.rollback_data(deployment, options["revision"]) if options["revision"]
                    else cli.read_document(options["spec"]))
            proposal = changes.propose(deployment, data)
        except changes.ChangeRefused as exc:
            raise CommandError(f"Not changed: {exc}") from None
        except launch.SpecInvalid as exc:
            raise CommandError("Not changed: the spec is not valid:\n" + cli.issue_lines(exc.issues)) from None
        self.stdout.write(preview_text(proposal))
        if options["preview"]:
            return
        try:
            run = changes.apply(deployment, data, note=options["note"], acknowledged=set(options["acknowledge"]))
        except launch.NeedsAcknowledgement as exc:
            keys = " ".join(launch.warning_key(i) for i in exc.issues)
            raise CommandError("Not changed: these warnings need acknowledging:\n" + cli.issue_lines(exc.issues)
                               + f"\nAccept them with: --acknowledge {keys}") from None
        except launch.SpecInvalid as exc:
            raise CommandError("Not changed:\n" + cli.issue_lines(exc.issues)) from None
        cli.audit("deployment.change", deployment, {"revision": run.revision.number, "run": run.number,
                                                     "rollback_to": options["revision"]})
        self.stdout.write(f"Revision {run.revision.number} recorded; change run {run.number} started "
                          f"with {run.steps.count()} steps.")
        if options["wait"]:
            self.stdout.write(cli.outcome(deployment, run, cli.follow(self.stdout, run, timeout=options["timeout"])))


def preview_text(proposal) -> str:
    shown = proposal.as_dict()
    lines = ["Fields:"] + ([f"  {c['path']}: {c['old']} -> {c['new']}" for c in shown["changes"]] or ["  (none)"])
    lines += ["VMs added: " + (", ".join(vm["name"] for vm in shown["vms_added"]) or "none"),
              "VMs removed: " + (", ".join(vm["name"] for vm in shown["vms_removed"]) or "none"),
              "Files changed: " + (", ".join(f["path"] for f in shown["files"]) or "none"),
              "Services reconfigured: " + (", ".join(shown["services"]) or "none"),
              "Addresses taken: " + (", ".join(shown["addresses"]["taken"]) or "none")
              + "; released: " + (", ".join(shown["addresses"]["released"]) or "none"),
              "Steps: " + ", ".join(step["label"] for step in shown["steps"])]
    if proposal.blocking or proposal.advisory:
        lines += ["Checks:", cli.issue_lines(proposal.blocking + proposal.advisory)]
    return "\n".join(lines)
