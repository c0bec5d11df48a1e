"""Deployment pages: the list, one deployment (its spec without secrets and its plan), save it as a
template, and the entry of the Deploy OpenStack wizard. Thin: services do the work."""

import json

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from deployments.forms import SaveTemplateForm
from deployments.models import Deployment, DeploymentTemplate
from deployments.services.launch import SpecInvalid, preview
from deployments.services.templates import TemplateInvalid, save_as_template
from deployments.wizard import instances
from deployments.wizard.paths import message_for
from deployments.services import status
from deployments.services.secrets import with_placeholder_secrets
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
    deployments = Deployment.objects.select_related("vcenter").order_by("-created_at")
    return render(request, "deployments/deployment_list.html", {"deployments": deployments})


def _plan(deployment) -> tuple[dict | None, str]:
    try:
        return preview(with_placeholder_secrets(deployment.spec), deployment=deployment), ""
    except SpecInvalid as exc:
        return None, f"The plan cannot be drawn from this spec: {exc}"


def deployment_detail(request, pk, save_form=None):
    """Rendered complete (it works without JavaScript); static/js/deployment.js then polls the
    API's status snapshot and updates it in place while the run is live."""
    deployment = get_object_or_404(Deployment.objects.select_related("vcenter", "created_by"), pk=pk)
    plan, plan_error = _plan(deployment)
    live = status.status_snapshot(deployment, since=None, limit=50)
    return render(request, "deployments/deployment_detail.html", {
        "deployment": deployment,
        "live": live,
        "run": live["run"],
        "events": live["events"][::-1],  # newest first
        "spec_json": json.dumps(deployment.spec, indent=2),
        "plan": plan,
        "plan_error": plan_error,
        "save_form": save_form or SaveTemplateForm(prefix="save", initial={"name": deployment.name}),
    })


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


@require_POST
@requires(OPERATOR)
def deployment_cancel(request, pk):
    from deployments.services.run_actions import Refused, cancel

    deployment = get_object_or_404(Deployment, pk=pk)
    try:
        run = cancel(deployment)
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        audit.record(request, "deployment.cancel", deployment, {"run": run.number})
    return redirect("deployment-detail", pk)


@require_POST
@requires(OPERATOR)
def deployment_teardown(request, pk):
    from deployments.services.run_actions import Refused, teardown

    deployment = get_object_or_404(Deployment, pk=pk)
    try:
        teardown(deployment)
    except Refused as exc:
        messages.error(request, str(exc))
        return redirect("deployment-detail", pk)
    audit.record(request, "deployment.teardown", deployment)
    messages.success(request, f"Tearing down {deployment.name}: its VMs, rules, folder, pool and addresses go, "
                              "then the deployment.")
    return redirect("deployment-detail", pk)
