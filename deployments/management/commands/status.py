"""manage.py status DEPLOYMENT [--follow]: what the deployment page shows, as text."""

from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from deployments.management import cli
from deployments.services import status


class Command(BaseCommand):
    help = ("A deployment's status, progress, steps and VMs. --follow prints its run's events as they come "
            "until the run ends: exit 0 if it succeeded, 1 if it failed or was cancelled.")

    def add_arguments(self, parser):
        parser.add_argument("deployment", help="its id or name")
        parser.add_argument("--run", type=int, metavar="NUMBER", help="this run instead of the latest")
        parser.add_argument("--follow", "-f", action="store_true", help="tail the run's events until it ends")
        parser.add_argument("--since", type=int, default=0, metavar="SEQUENCE", help="with --follow: only events after this one")
        parser.add_argument("--timeout", type=float, default=0, metavar="SECONDS", help="with --follow: give up after this long")

    def handle(self, *args, **options):
        deployment = cli.find_deployment(options["deployment"])
        try:
            run = status.get_run(deployment, options["run"])
        except status.RunNotFound as exc:
            raise CommandError(str(exc)) from None
        self.summary(deployment, run)
        if not options["follow"] or run is None:
            return
        self.stdout.write("Events:")
        final = cli.follow(self.stdout, run, since=options["since"], timeout=options["timeout"])
        deployment.refresh_from_db()
        self.summary(deployment, run)
        self.stdout.write(cli.outcome(deployment, run, final))

    def summary(self, deployment, run) -> None:
        write = self.stdout.write
        write(f"{deployment.name} (id {deployment.pk}): {deployment.get_status_display()}")
        if run is None:
            write("  no run yet")
            return
        detail = status.run_detail(run)
        write(f"  run {detail['number']}: {detail['status']}, {detail['progress']:.0f}% done")
        if detail["error"]:
            write(f"  error: {detail['error']}")
        counts = Counter(step["status"] for step in detail["steps"])
        write("  steps: " + ", ".join(f"{count} {name}" for name, count in sorted(counts.items())))
        for step in detail["steps"]:
            if step["status"] == "running":
                waiting = f", waiting for {step['waiting_for']}" if step["waiting_for"] else ""
                write(f"    running: {step['label']} (attempt {step['attempt']}, {step['duration'] or 0:.0f} s{waiting})")
            elif step["status"] == "failed":
                write(f"    failed: {step['label']}: {step['error']}")
        vms = status.vms(deployment, run)
        if vms:
            write("  VMs:")
            for vm in vms:
                write(f"    {vm['name']:<28} {vm['role']:<11} {vm['management_ip'] or '-':<15} "
                      f"{vm['power_state'] or '-':<10} {vm['status']}" + (f" ({vm['moid']})" if vm["moid"] else ""))
