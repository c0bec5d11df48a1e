"""Deployment type (new, or from a saved template) and the vCenter to deploy on."""

import hashlib

from django import forms
from django.utils.timesince import timesince

from deployments.models import Deployment, DeploymentTemplate
from deployments.services.templates import MAX_TEMPLATE_BYTES, TemplateInvalid, check_template_spec, load_document, upgrade
from deployments.spec import SCHEMA_VERSION, Issue
from deployments.wizard.forms.base import StepForm, compact
from inventory.models import VCenter

SOURCES = [
    ("new", "A new deployment"),
    ("saved", "From a saved template"),
    ("file", "From a template file"),
]


class StartForm(StepForm):
    step = "start"
    title = "Deployment type"
    intro = ("Start a new deployment, or deploy again from a saved template: its settings fill in the next "
             "steps, and you type the passwords again (templates never hold them).")

    name = forms.CharField(label="Deployment name", max_length=32,
                           help_text="1-32 lower-case letters, digits and hyphens, e.g. cloud1. It prefixes every VM "
                                     "name (cloud1-controller-01).")
    source = forms.ChoiceField(label="Start from", choices=SOURCES, initial="new", widget=forms.RadioSelect)
    template = forms.ChoiceField(label="Saved template", required=False,
                                 help_text="Used when you start from a saved template.")
    template_file = forms.FileField(label="Template file", required=False,
                                    help_text="A JSON deployment template exported from VIO Manager. Used when you "
                                              "start from a template file.")

    def setup(self):
        if self.state.editing:  # the deployment's current revision is where this wizard starts
            for name in ("source", "template", "template_file"):
                del self.fields[name]
            self.loaded_file, self.template_spec = None, self.state.template_spec
            self.source_key = self.state.extra.get("template_source", "")
            return
        self.fields["template"].conditional = self.fields["template_file"].conditional = True  # not "optional"
        self.fields["template"].choices = [("", "— choose a template —")] + [
            (str(t.pk), f"{t.name}" + (f" — {t.description}" if t.description else ""))
            for t in DeploymentTemplate.objects.order_by("name")
        ]
        self.loaded_file = self.state.extra.get("template_file_name") if self.state.extra.get(
            "template_source", "").startswith("file:") else None
        if self.loaded_file:
            self.fields["template_file"].help_text = (f"{self.loaded_file} is loaded; choose another file to replace it. "
                                                      + self.fields["template_file"].help_text)
        self.template_spec = None
        self.source_key = "new"

    def clean_template_file(self):
        upload = self.cleaned_data.get("template_file")
        if upload and upload.size > MAX_TEMPLATE_BYTES:
            raise forms.ValidationError("This file is too large to be a deployment template (over 1 MB).")
        return upload

    def clean(self):
        cleaned = super().clean()
        name = self.value("name")
        others = Deployment.objects.exclude(pk=self.state.extra.get("editing") or 0)
        if name and "name" not in self._errors and others.filter(name=name).exists():
            self.add_error("name", f"A deployment named {name} exists; choose another name.")
        source = self.value("source")
        if source == "saved":
            self._use_saved(self.value("template"))
        elif source == "file":
            self._use_file(self.value("template_file"))
        return cleaned

    def _use_saved(self, pk):
        template = DeploymentTemplate.objects.filter(pk=pk).first() if pk and str(pk).isdigit() else None
        if template is None:
            self.add_error("template", "Choose the template to deploy from.")
            return
        self.template_spec, self.source_key = template.spec, f"saved:{template.pk}"

    def _use_file(self, upload):
        if upload is None:
            if self.loaded_file:
                self.source_key = self.state.extra["template_source"]
                self.template_spec = self.state.template_spec
            else:
                self.add_error("template_file", "Choose the template file to deploy from.")
            return
        raw = upload.read(MAX_TEMPLATE_BYTES + 1)
        try:  # bounded: size, nesting, numbers (a deep or huge document is an error here, not a 500)
            document = load_document(raw, upload.name)
        except TemplateInvalid as exc:
            self.add_error("template_file", exc.issues[0].message)
            return
        try:
            spec = upgrade(document)
            # Paths as in the file (like the template upload page): the spec is under "spec".
            issues = [Issue("spec." + i.path, i.code, i.message, i.severity) for i in check_template_spec(spec)]
        except TemplateInvalid as exc:
            issues = exc.issues
        for issue in issues:
            self.add_error("template_file", f"{issue.path}: {issue.message}")
        if not issues:
            self.template_spec = spec
            self.source_key = "file:" + hashlib.sha256(raw).hexdigest()
            self.file_name = upload.name

    def fragment(self) -> dict:
        return compact({"schema_version": SCHEMA_VERSION, "name": self.value("name")})


class VCenterStepForm(StepForm):
    step = "vcenter"
    title = "vCenter"
    intro = ("The vCenter Server that OpenStack runs on. Pick one you registered, or register it here: you will "
             "review its certificate, and its inventory is synced so the next steps can offer its clusters, "
             "datastores and port groups.")

    vcenter = forms.ChoiceField(label="vCenter", help_text="A registered vCenter whose certificate you accepted.",
                                error_messages={"required": "Choose a vCenter, or register one below."})
    resync = forms.BooleanField(label="Sync its inventory again before continuing", required=False,
                                help_text="The next steps offer what the last sync found.")

    def setup(self):
        self.vcenters = list(VCenter.objects.exclude(certificate_sha256="").order_by("name"))
        self.fields["vcenter"].choices = [("", "— choose a vCenter —")] + [
            (str(vc.pk), f"{vc.name} ({vc.host}:{vc.port}) — "
                         + (f"synced {timesince(vc.last_synced_at)} ago" if vc.last_synced_at else "never synced"))
            for vc in self.vcenters
        ]
        if not self.is_bound and not self.initial.get("vcenter") and len(self.vcenters) == 1:
            self.initial["vcenter"] = str(self.vcenters[0].pk)

    def from_spec(self, spec: dict) -> dict:
        ref = spec.get("vcenter") or {}
        vcenter = VCenter.objects.filter(host=ref.get("host"), port=ref.get("port", 443)).first()
        return {"vcenter": str(vcenter.pk)} if vcenter else {}

    @property
    def chosen(self) -> VCenter | None:
        pk = self.value("vcenter")
        return next((vc for vc in self.vcenters if str(vc.pk) == str(pk)), None)

    def fragment(self) -> dict:
        vcenter = self.chosen
        return {"vcenter": {"host": vcenter.host, "port": vcenter.port}} if vcenter else {}

    def inventory_issues(self, spec) -> list:
        from deployments.spec.inventory_checks import InventoryContext

        return InventoryContext.for_spec_vcenter(spec.vcenter.host, spec.vcenter.port).check_vcenter()
