"""Deployment template pages: list, detail, download as JSON, delete, upload. Thin: the template
service does the work; its issues are shown per JSON path."""

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from deployments.forms import TemplateUploadForm
from deployments.models import DeploymentTemplate
from deployments.services.templates import TemplateInvalid, export_document, import_template
from vio_manager.access import audit
from vio_manager.access.pages import requires
from vio_manager.access.roles import OPERATOR
from vio_manager.api.downloads import attachment


def template_list(request):
    templates = DeploymentTemplate.objects.select_related("source_deployment").order_by("name")
    return render(request, "deployments/template_list.html", {"templates": templates})


def template_detail(request, pk):
    template = get_object_or_404(DeploymentTemplate.objects.select_related("source_deployment"), pk=pk)
    return render(request, "deployments/template_detail.html", {
        "template": template, "spec_json": json.dumps(template.spec, indent=2)})


def template_download(request, pk):
    template = get_object_or_404(DeploymentTemplate, pk=pk)
    body = json.dumps(export_document(template.spec, template.name), indent=2) + "\n"
    return attachment(HttpResponse(body, content_type="application/json"), template.name, ".json", fallback="template")


@require_http_methods(["GET", "POST"])
@requires(OPERATOR)
def template_delete(request, pk):
    template = get_object_or_404(DeploymentTemplate, pk=pk)
    if request.method == "POST":
        target = audit.Target.of(template)
        template.delete()
        audit.record(request, "template.delete", target)
        messages.success(request, f"Deleted the template {template.name}.")
        return redirect("template-list")
    return render(request, "deployments/template_confirm_delete.html", {"template": template})


@require_http_methods(["GET", "POST"])
@requires(OPERATOR)
def template_upload(request):
    posted = request.method == "POST"
    form = TemplateUploadForm(request.POST if posted else None, request.FILES if posted else None)
    issues = []
    if posted and form.is_valid():
        try:
            template = import_template(form.cleaned_data["file"], name=form.cleaned_data["name"],
                                       description=form.cleaned_data["description"], user=request.user)
        except TemplateInvalid as exc:
            issues = exc.issues
        else:
            audit.record(request, "template.import", template)
            messages.success(request, f"Imported the template {template.name}.")
            return redirect("template-detail", template.pk)
    return render(request, "deployments/template_upload.html", {"form": form, "issues": issues})
