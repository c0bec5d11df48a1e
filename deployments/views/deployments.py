"""Deployment pages: the list, one deployment (its settings as VIO's summary, its plan, its revisions),
save it as a template, stop, resume and tear down (each dangerous action confirmed), and the entry of
the Deploy OpenStack wizard. Thin: services do the work, views.summary words it for people."""

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from deployments.forms import SaveTemplateForm
from deployments.models import Deployment, DeploymentTemplate
from deployments.services.launch import SpecInvalid, preview
from deployments.services.templates import TemplateInvalid, save_as_template
from deployments.wizard import instances
from deployments.wizard.paths import message_for
from deployments.choices import DeploymentStatus, RunKind, RunStatus
from deployments.services import health
from deployments.services import revisions as revision_service
from deployments.services import status
from deployments.services.secrets import with_placeholder_secrets
from deployments.views import health as health_views
from deployments.views import summary
from vio_manager.access import audit
from vio_manager.access.pages import requires
from vio_manager.access.roles import OPERATOR


@requires(OPERATOR)
def new_wizard(request):
    """A new instance of the wizard, with its own id (and storage); ?template=<id> pre-selects one."""
    wizard_id = instances.new(request.session, request.user)
    url = reverse("deployment-wizard", kwargs={"wizard_id": wizard_id, "step": "start"})
    template = request.GET.get("template", "")
    if template.isdigit() and DeploymentTemplate.objects.filter(pk=template).exists():
        url += f"?template={template}"
    return redirect(url)


def deployment_list(request):
    deployments = list(Deployment.objects.select_related("vcenter", "created_by").defer("secrets").order_by("-created_at"))
    judged = health.evaluate_many(deployments)  # once for the page: a few queries per vCenter
    for deployment in deployments:
        deployment.badge = summary.badge(deployment.status)
        deployment.health_badge = health_views.badge(judged[deployment.pk])
    return render(request, "deployments/deployment_list.html", {"deployments": deployments})


def _plan(deployment) -> tuple[dict | None, str]:
    try:
        return preview(with_placeholder_secrets(deployment.spec), deployment=deployment), ""
    except SpecInvalid as exc:
        reasons = "; ".join(f"{summary.field_label(issue.path)}: {issue.message}" for issue in exc.issues[:5])
        return None, (f"The plan cannot be drawn from this deployment's settings ({reasons}). The inventory may have "
                      "changed since it was deployed: sync the vCenter, or change the configuration.")


REVISIONS_SHOWN = 20  # the newest; the API lists them all


def _revisions(deployment) -> list[dict]:
    """The newest revisions, each with its field diff against the one before it."""
    rows = list(deployment.revisions.select_related("created_by").order_by("-number")[:REVISIONS_SHOWN + 1])
    shown = []
    for index, revision in enumerate(rows[:REVISIONS_SHOWN]):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        changes = summary.diff_rows(revision_service.diff_revisions(previous, revision)) if previous else []
        shown.append({"revision": revision, "previous": previous.number if previous else None, "changes": changes,
                      "current": revision.number == deployment.current_revision})
    return shown


def _can_change(deployment, run) -> bool:
    """"Change configuration" is offered when the last run succeeded, or failed after a success (the
    deployment has a current revision: a run applying one succeeded), and nothing runs or is torn down."""
    if run is None or deployment.current_revision is None or deployment.status == DeploymentStatus.TEARING_DOWN:
        return False
    return run["kind"] != RunKind.TEARDOWN and run["status"] in (RunStatus.SUCCEEDED, RunStatus.FAILED)


def _teardown_failure(deployment, run, events) -> str:
    """Why the last teardown failed, in its own words: the run's error, else its last error event."""
    if run is None or run["kind"] != RunKind.TEARDOWN or run["status"] != RunStatus.FAILED:
        return ""
    if run["error"]:
        return run["error"]
    last = deployment.runs.get(number=run["number"]).events.filter(level="error").order_by("-sequence").first()
    return last.message if last else "The teardown stopped before it removed everything; the events below say where."


def deployment_detail(request, pk, save_form=None):
    """Rendered complete (it works without JavaScript); static/js/deployment.js then polls the
    API's status snapshot and updates it in place while the run is live."""
    deployment = get_object_or_404(Deployment.objects.select_related("vcenter", "created_by"), pk=pk)
    plan, plan_error = _plan(deployment)
    live = status.status_snapshot(deployment, since=None, limit=EVENTS_SHOWN)
    run = live["run"]
    for step in live["steps"]:
        step["badge"] = summary.badge(step["status"])
    events = live["events"][::-1]  # newest first
    current = revision_service.current(deployment)
    return render(request, "deployments/deployment_detail.html", {
        "deployment": deployment,
        "live": live,
        "run": run,
        "badge": summary.badge(live["deployment"]["status"]),
        "status_display": json.dumps(summary.STATUS_DISPLAY),
        "events": events,
        "oldest_event": events[-1]["sequence"] if events else 0,
        "acknowledged": summary.acknowledged(deployment.acknowledged),
        "settings": summary.settings_summary(deployment.spec, deployment.vcenter),
        "access": summary.access_urls(deployment.spec) if deployment.status == DeploymentStatus.SUCCEEDED else None,
        "current_revision": current,
        "revisions": _revisions(deployment),
        "can_change": _can_change(deployment, run),
        "teardown_failure": _teardown_failure(deployment, run, events),
        "plan": plan,
        "plan_error": plan_error,
        "save_form": save_form or SaveTemplateForm(prefix="save", initial={"name": deployment.name}),
        **health_views.card_context(deployment),
    })


EVENTS_SHOWN = 50  # the newest; "Show older events" pages back through the events API


@require_POST
@requires(OPERATOR)
def deployment_save_template(request, pk):
    deployment = get_object_or_404(Deployment, pk=pk)
    form = SaveTemplateForm(request.POST, prefix="save")
    if form.is_valid():
        try:
            template = save_as_template(deployment.spec, name=form.cleaned_data["name"],
                                        description=form.cleaned_data["description"], user=request.user,
                                        deployment=deployment)
        except TemplateInvalid as exc:
            for issue in exc.issues:
                field = "name" if issue.path == "name" else None
                form.add_error(field, message_for(issue, "Template name" if field else issue.path))
        else:
            audit.record(request, "template.create", template, {"from_deployment": deployment.name})
            messages.success(request, f"Saved the template {template.name}.")
            return redirect("template-detail", template.pk)
    return deployment_detail(request, pk, save_form=form)


@require_POST
@requires(OPERATOR)
def deployment_retry(request, pk):
    from deployments.services.run_actions import Refused, resume

    deployment = get_object_or_404(Deployment, pk=pk)
    try:
        run = resume(deployment)
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        audit.record(request, "deployment.retry", deployment, {"run": run.number})
    return redirect("deployment-detail", pk)


def _confirm(request, deployment, action: str):
    return render(request, "deployments/deployment_confirm.html", {"deployment": deployment, "action": action})


@require_http_methods(["GET", "POST"])
@requires(OPERATOR)
def deployment_cancel(request, pk):
    """Stop the deployment (GET: the confirmation page, for a browser without JavaScript)."""
    from deployments.services.run_actions import Refused, cancel

    deployment = get_object_or_404(Deployment, pk=pk)
    if request.method == "GET":
        return _confirm(request, deployment, "stop")
    try:
        run = cancel(deployment)
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        audit.record(request, "deployment.cancel", deployment, {"run": run.number})
        messages.success(request, f"Stopping {deployment.name}: the steps running now finish, no new step starts. "
                                  "Resume the run later to go on from where it stopped.")
    return redirect("deployment-detail", pk)


@require_http_methods(["GET", "POST"])
@requires(OPERATOR)
def deployment_teardown(request, pk):
    """Tear the deployment down (GET: the confirmation page, for a browser without JavaScript)."""
    from deployments.services.run_actions import Refused, teardown

    deployment = get_object_or_404(Deployment, pk=pk)
    if request.method == "GET":
        return _confirm(request, deployment, "teardown")
    try:
        teardown(deployment)
    except Refused as exc:
        messages.error(request, str(exc))
        return redirect("deployment-detail", pk)
    audit.record(request, "deployment.teardown", deployment)
    messages.success(request, f"Tearing down {deployment.name}: its VMs, rules, folder, pool and addresses go, "
                              "then the deployment.")
    return redirect("deployment-detail", pk)
