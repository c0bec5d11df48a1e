"""The Deploy OpenStack wizard: formtools' NamedUrlSessionWizardView, one storage per wizard instance.

Each instance has a random id in its URL (/deployments/new/<id>/<step>/) that namespaces its session
storage, so two tabs never share data. Step data is kept as posted minus passwords: the vCenter and
NSX passwords go straight into their registered connections, the Keystone ones into WizardSecret rows
whose ids are kept. Finishing re-validates the whole spec through create_deployment; blocking issues
at that point send the user back to the step of the first one, with the errors on its fields.
"""

from functools import cached_property

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.forms import CheckboxSelectMultiple, RadioSelect
from django.shortcuts import redirect
from django.urls import reverse
from formtools.wizard.forms import ManagementForm
from formtools.wizard.views import NamedUrlSessionWizardView

from deployments.services.launch import NeedsAcknowledgement, SpecInvalid, create_deployment, preview
from deployments.services.secrets import merge_secrets, missing_secrets
from deployments.spec import Issue
from deployments.wizard import instances, paths
from deployments.wizard.actions import ActionsMixin
from deployments.wizard.state import WizardState
from deployments.wizard.steps import CONDITIONS, STEPS
from vio_manager.access import audit
from vio_manager.access.pages import RoleRequiredMixin


class DeployWizard(RoleRequiredMixin, ActionsMixin, NamedUrlSessionWizardView):  # operators and admins
    form_list = STEPS
    condition_dict = CONDITIONS
    url_name = "deployment-wizard"
    done_step_name = "done"
    file_storage = None  # the template upload is read at once (StartForm); no file is ever stored
    template_name = "deployments/wizard/step.html"

    def dispatch(self, request, *args, **kwargs):
        if not instances.known(request.session, kwargs.get("wizard_id", "")):
            return redirect("deployment-new")
        return super().dispatch(request, *args, **kwargs)

    def get_prefix(self, request, *args, **kwargs):
        return instances.storage_prefix(kwargs["wizard_id"])

    def get_step_url(self, step):
        return reverse(self.url_name, kwargs={"wizard_id": self.kwargs["wizard_id"], "step": step})

    def get_template_names(self):
        return [f"deployments/wizard/step_{self.steps.current}.html", self.template_name]

    @cached_property
    def state(self) -> WizardState:
        return WizardState(self)

    # --- forms ----------------------------------------------------------------------------------

    def get_form_kwargs(self, step=None):
        return {"state": self.state}

    def get_form_initial(self, step):
        initial = dict(getattr(self, "initial_override", None) or {})
        if step == "start" and not initial:
            template = self.request.GET.get("template", "")
            if template.isdigit():
                initial = {"source": "saved", "template": template}
        return initial

    def sanitized(self, form) -> dict:
        """The posted data of this step, minus its passwords and anything not of this form."""
        start = form.prefix + "-"
        secret = {form.add_prefix(name) for name in form.secret_fields}
        return {key: values for key, values in form.data.lists() if key.startswith(start) and key not in secret}

    def process_step(self, form):
        step = form.step
        if step == "start":
            self.start_from(form)
        for field, path in form.secret_fields.items():
            if form.value(field) and path in form.typed_secrets():
                self.state.keep_secret(path, form.value(field))
        if step == "keystone" and not form.uses_ldap:
            self.state.forget_secret("keystone.ldap.bind_password")
        self.state.set_fragment(step, form.fragment())
        self.drop_pending(step)
        return self.sanitized(form)

    def process_step_files(self, form):
        return {}

    def start_from(self, form) -> None:
        """A different starting point (new, another template) empties the other steps."""
        extra = self.state.extra
        if form.source_key == extra.get("template_source"):
            return
        for step in list(self.storage.data[self.storage.step_data_key]):
            if step != "start":
                del self.storage.data[self.storage.step_data_key][step]
        extra["fragments"] = {}
        extra.pop("pending_issues", None)
        self.state.forget_all_secrets()
        extra["template_source"] = form.source_key
        extra["template_spec"] = form.template_spec
        extra["template_file_name"] = getattr(form, "file_name", None)

    def forget_form_list(self) -> None:
        for name in ("_resolved_form_list", "_cache_signature"):
            self.__dict__.pop(name, None)

    def store_and_advance(self, form):
        self.storage.set_step_data(form.step, self.process_step(form))
        self.forget_form_list()
        return self.render_next_step(form)

    # --- navigation -----------------------------------------------------------------------------

    def posted_step(self) -> str | None:
        management = ManagementForm(self.request.POST, prefix=self.prefix)
        step = management.cleaned_data["current_step"] if management.is_valid() else None
        return step if step in self.get_form_list() else None

    def post(self, *args, **kwargs):
        step = self.posted_step()
        if step is None and not self.request.POST.get("wizard_goto_step"):
            messages.error(self.request, "That page of the wizard is out of date; here is where you are.")
            return redirect(self.get_step_url(self.steps.current))
        if step and step != self.steps.current:
            self.storage.current_step = step  # a form posted from an earlier page of this wizard
        handled = self.handle_action(step)
        if handled is not None:
            return handled
        return super().post(*args, **kwargs)

    def render_goto_step(self, goto_step, **kwargs):
        """Back (and the step list) keep what was typed on this step, valid or not (no passwords)."""
        step = self.posted_step()
        if step:
            form = self.get_form(step, data=self.request.POST, files=self.request.FILES)
            if form.is_valid():
                self.storage.set_step_data(step, self.process_step(form))
            else:
                self.storage.set_step_data(step, self.sanitized(form))
                self.state.set_fragment(step, None)
            self.forget_form_list()
        return super().render_goto_step(goto_step, **kwargs)

    def render(self, form=None, **kwargs):
        form = form or self.get_form()
        self.apply_pending(form)
        return super().render(form, **kwargs)

    def render_done(self, form, **kwargs):
        """formtools' version, except that the storage is kept when done() sends the user back."""
        if kwargs.get("step") != self.done_step_name:
            return redirect(self.get_step_url(self.done_step_name))
        final = {}
        for step in self.get_form_list():
            form_obj = self.get_form(step=step, data=self.storage.get_step_data(step))
            if not form_obj.is_valid():
                return self.render_revalidation_failure(step, form_obj, **kwargs)
            final[step] = form_obj
        return self.done(list(final.values()), form_dict=final, **kwargs)

    # --- issues found when finishing ------------------------------------------------------------

    def send_back(self, issues: list[Issue], step: str | None = None):
        blocking = [i for i in issues if i.blocking] or issues
        self.state.extra["pending_issues"] = [i.as_dict() for i in blocking]
        steps = self.get_form_list()
        target = step or next((s for s in (paths.step_of(i.path) for i in blocking) if s in steps), "review")
        self.storage.current_step = target
        return redirect(self.get_step_url(target))

    def drop_pending(self, step: str) -> None:
        pending = self.state.extra.get("pending_issues") or []
        self.state.extra["pending_issues"] = [i for i in pending if paths.step_of(i["path"]) != step]

    def apply_pending(self, form) -> None:
        pending = [Issue(**i) for i in self.state.extra.get("pending_issues") or [] if paths.step_of(i["path"]) == form.step]
        if not pending or form.step == "review":
            return
        form.errors  # noqa: B018 -- run the form's own checks first
        if not hasattr(form, "cleaned_data"):
            form.cleaned_data = {}
        paths.apply_issues(form, pending)

    # --- done -----------------------------------------------------------------------------------

    def done(self, form_list, form_dict=None, **kwargs):
        public = self.state.public_spec()
        secrets = self.state.secrets()
        missing = [path for path in missing_secrets(public) if path not in secrets]
        if missing:
            return self.send_back([Issue(path, "secret_missing", "Type this password again.") for path in missing])
        try:
            with transaction.atomic():
                deployment = create_deployment(merge_secrets(public, secrets), user=self.request.user,
                                               acknowledged=form_dict["review"].acknowledged)
        except NeedsAcknowledgement:
            return self.send_back([], step="review")
        except SpecInvalid as exc:
            return self.send_back(exc.issues)
        except IntegrityError:
            return self.send_back([Issue("name", "duplicate_name", f"A deployment named {public.get('name')} exists; choose another name.")])
        audit.record(self.request, "deployment.create", deployment,
                     {"vcenter": deployment.vcenter.name, "acknowledged": deployment.acknowledged})
        self.state.forget_all_secrets()
        self.storage.reset()
        instances.forget(self.request.session, self.kwargs["wizard_id"])
        messages.success(self.request, f"Deployment {deployment.name} is created and queued.")
        return redirect("deployment-detail", deployment.pk)

    # --- page ----------------------------------------------------------------------------------

    def step_list(self) -> list[dict]:
        current = self.steps.current
        items = []
        for number, (name, form_class) in enumerate(self.get_form_list().items(), start=1):
            done = self.state.completed(name) and name != current
            items.append({"name": name, "title": form_class.title, "number": number, "reachable": done,
                          "state": "current" if name == current else ("done" if done else "todo")})
        return items

    def error_summary(self, form) -> list[dict]:
        entries = []
        for error in form.non_field_errors():
            entries.append({"target": "", "text": error})
        for name, field in form.fields.items():
            for error in form.errors.get(name, []):
                suffix = "_0" if isinstance(field.widget, (RadioSelect, CheckboxSelectMultiple)) else ""
                entries.append({"target": form[name].auto_id + suffix, "text": f"{field.label}: {error}"})
        first = next((name for name in form.fields if name in form.errors), None)
        if first:
            form.fields[first].widget.attrs["autofocus"] = True
        return entries

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        summary = self.error_summary(form)
        context.update(step_list=self.step_list(), step_form=form, summary=summary,
                       summary_focus=bool(summary) and not any(entry["target"] for entry in summary),
                       wizard_id=self.kwargs["wizard_id"], is_last=self.steps.current == self.steps.last)
        context.update(self.action_context(form, kwargs))
        if self.steps.current == "review":
            titles = {name: form_class.title for name, form_class in self.get_form_list().items()}
            context["review_blocking"] = [
                {"message": paths.message_for(issue), "step": step if step in titles else "review",
                 "title": titles.get(step, "Review")} for issue, step in getattr(form, "blocking", [])]
            try:
                context["plan"] = preview(self.state.spec_for_checks())
            except SpecInvalid:
                context["plan"] = None
        return context
