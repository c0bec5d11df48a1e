"""What a wizard page can do besides Next and Back: register a vCenter or NSX Manager and accept its
certificate on the step itself, sync an inventory, re-offer the pickers, save the spec as a template."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect
from django.utils import timezone

from deployments.services.templates import TemplateInvalid, save_as_template
from deployments.wizard import endpoints, paths
from deployments.wizard.forms import RegisterNsxManagerForm, SaveTemplateForm
from inventory.forms import VCenterForm
from inventory.models import NsxManager, VCenter
from vio_manager.access import audit
from vio_manager.access.pages import check
from vio_manager.access.roles import ADMIN

ENDPOINT_STEPS = {"vcenter": (VCenter, "newvc", "pending_vcenter"), "nsx": (NsxManager, "newnsx", "pending_nsx")}


class ActionsMixin:
    def handle_action(self, step):
        post = self.request.POST
        if post.get("wizard_goto_step"):
            return None
        action = post.get("wizard_action", "")
        if step in ENDPOINT_STEPS:
            model = ENDPOINT_STEPS[step][0]
            picked = post.get(f"{step}-{step if step == 'vcenter' else 'manager'}", "")
            if action in ("register", "accept"):
                check(self.request, ADMIN)  # registering a connection is credential management
                return self.register_endpoint(step) if action == "register" else self.accept_endpoint(step)
            if not action:
                self.sync_if_needed(model, picked, bool(post.get(f"{step}-resync")))
        if action == "refresh" and step in ("datacenter", "nsx"):
            return self.refresh()
        if action == "save_template" and step == "review":
            return self.save_template()
        return None

    def current_form(self):
        return self.get_form(data=self.storage.current_step_data)

    # --- vCenter / NSX Manager registration ---------------------------------------------------

    def registration_form(self, step, data=None):
        model, prefix, _ = ENDPOINT_STEPS[step]
        spec = self.state.template_spec or {}
        if step == "vcenter":
            ref = spec.get("vcenter") or {}
            return VCenterForm(data, prefix=prefix, initial={"host": ref.get("host"), "port": ref.get("port", 443)})
        ref = ((spec.get("neutron") or {}).get("nsx") or {}).get("manager") or {}
        return RegisterNsxManagerForm(data, prefix=prefix, vcenter=self.state.vcenter,
                                      initial={"host": ref.get("host"), "port": ref.get("port", 443), "username": "admin"})

    def register_endpoint(self, step):
        model, _, key = ENDPOINT_STEPS[step]
        form = self.registration_form(step, self.request.POST)
        if step == "nsx" and self.state.vcenter is None:
            form.is_valid()
            form.add_error(None, "Choose the vCenter first (step vCenter).")
            return self.render(self.current_form(), registration=form)
        started = timezone.now()
        endpoint = endpoints.register(model, form)
        if endpoint is None:
            return self.render(self.current_form(), registration=form)
        # A pending connection at that address is taken up again (its certificate read anew).
        verb = "create" if endpoint.created_at >= started else "refresh_certificate"
        audit.record(self.request, f"{audit.noun(endpoint)}.{verb}", endpoint,
                     {"host": endpoint.host, "port": endpoint.port, "username": endpoint.username})
        self.state.extra[key] = endpoint.pk
        return self.render(self.current_form())

    def accept_endpoint(self, step):
        model, _, key = ENDPOINT_STEPS[step]
        endpoint = model.objects.filter(pk=self.state.extra.get(key)).first()
        if endpoint is None:
            return self.render(self.current_form(), action_error="Register the connection again: it was removed meanwhile.")
        error = endpoints.accept_and_sync(endpoint, self.request.POST.get("fingerprint", ""))
        endpoint.refresh_from_db()
        if endpoint.is_pinned:
            audit.record(self.request, f"{audit.noun(endpoint)}.accept_certificate", endpoint,
                         {"fingerprint": endpoint.certificate_sha256, "status": endpoint.status})
            self.state.extra.pop(key, None)
        if error:
            return self.render(self.current_form(), action_error=error, action_endpoint=endpoint)
        messages.success(self.request, f"{endpoint.name}: certificate accepted, connected, inventory synced.")
        if step == "vcenter":
            data = QueryDict(mutable=True)
            data["vcenter-vcenter"] = str(endpoint.pk)
            form = self.get_form(data=data)
            return self.store_and_advance(form) if form.is_valid() else self.render(form)
        self.initial_override = {**self.posted_initial(), "manager": str(endpoint.pk)}
        return self.render(self.get_form())

    def sync_if_needed(self, model, pk: str, asked: bool) -> None:
        endpoint = model.objects.exclude(certificate_sha256="").filter(pk=pk).first() if pk.isdigit() else None
        if endpoint is not None and endpoints.needs_sync(endpoint, asked):
            error = endpoints.sync_now(endpoint)
            if error:
                messages.error(self.request, error)

    # --- pickers for another datacenter / NSX Manager -----------------------------------------

    def posted_initial(self) -> dict:
        form = self.get_form(data=self.request.POST)
        return {name: field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
                for name, field in form.fields.items() if not name.startswith("ack_")}

    def refresh(self):
        self.initial_override = self.posted_initial()
        return self.render(self.get_form())

    # --- save as template (review) ------------------------------------------------------------

    def save_template(self):
        form = SaveTemplateForm(self.request.POST, prefix="save")
        if form.is_valid():
            try:
                template = save_as_template(self.state.public_spec(), name=form.cleaned_data["name"],
                                            description=form.cleaned_data["description"], user=self.request.user)
            except TemplateInvalid as exc:
                for issue in exc.issues:
                    field = "name" if issue.path == "name" else None
                    form.add_error(field, paths.message_for(issue, "Template name" if field else issue.path))
            else:
                audit.record(self.request, "template.create", template, {"from": "wizard"})
                messages.success(self.request, f"Saved the template {template.name}: deploy from it again any time.")
                return redirect(self.get_step_url("review"))
        return self.render(self.current_form(), save_form=form)

    def action_context(self, form, kwargs) -> dict:
        step = self.steps.current
        context = {}
        if step in ENDPOINT_STEPS:
            model, _, key = ENDPOINT_STEPS[step]
            context["registration"] = kwargs.get("registration") or self.registration_form(step)
            pk = self.state.extra.get(key)
            context["pending"] = model.objects.filter(pk=pk, certificate_sha256="").first() if pk else None
            context["endpoint_kind"] = "vcenters" if step == "vcenter" else "nsx-managers"
        if step == "review":
            context["save_form"] = kwargs.get("save_form") or SaveTemplateForm(
                prefix="save", initial={"name": self.state.public_spec().get("name", "")})
        return context
