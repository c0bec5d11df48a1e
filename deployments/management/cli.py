"""What the deployment commands share: reading a spec or template file, the issues with their JSON
paths, following a run's event log to its end, and the audit record of what a command changed."""

import sys
import time

import yaml
from django.core.management.base import CommandError

from deployments.choices import RunStatus
from deployments.models import Deployment, DeploymentTemplate
from deployments.services import status


def read_document(path: str) -> dict:
    """A JSON or YAML file ('-': standard input) holding one object."""
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        document = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise CommandError(f"{path} is neither JSON nor YAML: {exc}") from None
    if not isinstance(document, dict):
        raise CommandError(f"{path} must hold one object (a deployment spec or template), not {type(document).__name__}.")
    return document


def issue_lines(issues, prefix: str = "") -> str:
    return "\n".join(f"  {prefix}{i.path}: {i.message} [{i.code}{'' if i.blocking else ', advisory'}]" for i in issues)


def find_deployment(reference: str) -> Deployment:
    try:
        return status.find_deployment(reference)
    except Deployment.DoesNotExist as exc:
        raise CommandError(str(exc)) from None


def find_template(reference: str) -> DeploymentTemplate:
    found = DeploymentTemplate.objects.filter(name=reference).first()
    if found is None and str(reference).isdigit():
        found = DeploymentTemplate.objects.filter(pk=int(reference)).first()
    if found is None:
        raise CommandError(f"No template with the id or name {reference!r}.")
    return found


def event_line(event: dict) -> str:
    level = "" if event["level"] == "info" else f"{event['level'].upper()} "
    return f"{event['created_at']:%H:%M:%S} {level}{event['message']}"


def follow(out, run, since: int = 0, interval: float = 1.0, timeout: float = 0) -> str:
    """Print the run's events after `since` as they come, until the run ends; its final status."""
    deadline = time.monotonic() + timeout if timeout else None
    while True:
        try:
            page = status.events_page(run, since, status.EVENT_LIMIT_MAX)
        except status.RunNotFound as exc:
            raise CommandError(str(exc)) from None
        for event in page["events"]:
            out.write(event_line(event))
        out.flush()
        since = page["next_since"]
        if page["done"]:
            run.refresh_from_db()
            return run.status
        if page["has_more"]:
            continue
        if deadline and time.monotonic() > deadline:
            raise CommandError(f"Run {run.number} is still {page['run_status']} after {timeout:g} s; it goes on. "
                               f"Follow it with: manage.py status {run.deployment.name} --follow")
        time.sleep(interval)


def outcome(deployment, run, final: str) -> str:
    """The closing line of a followed run; a CommandError (exit 1) unless it succeeded."""
    if final != RunStatus.SUCCEEDED:
        reason = f": {run.error}" if run.error else "."
        raise CommandError(f"Run {run.number} of {deployment.name} {final}{reason}")
    return f"Run {run.number} of {deployment.name} succeeded."


def audit(action: str, target, detail: dict | None = None) -> None:
    """What a command changed, in the audit log, as done from the command line."""
    from vio_manager.access import audit as log

    log.record(log.Actor.cli(), action, target, detail)
