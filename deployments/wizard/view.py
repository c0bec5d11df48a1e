"""The Deploy OpenStack wizard: formtools' NamedUrlSessionWizardView, one storage per wizard instance.

Each instance has a random id in its URL (/deployments/new/<id>/<step>/) that namespaces its session
storage, so two tabs never share data. Step data is kept as posted minus passwords: the vCenter and
NSX passwords go straight into their registered connections, the Keystone ones into WizardSecret rows
whose ids are kept. Finishing re-validates the whole spec through create_deployment; blocking issues
at that point send the user back to the step of the first one, with the errors on its fields.

Any step can be left for any other (the step list, Back, the review's links) and keeps what it holds,
valid or not; a step left with problems is marked so, and stays reachable.

Editing a deployment (/deployments/<pk>/change/<id>/<step>/, views/change.py starts it): the same steps,
filled from the current revision, every one reachable; the last step shows the reviewed difference and
Apply starts the change run (services.changes.apply), audited as the API's `deployment.change`.
"""

from functools import cached_property

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.forms import CheckboxSelectMultiple, RadioSelect
from django.shortcuts import redirect
from django.urls import reverse
from formtools.wizard.forms import ManagementForm
from formtools.wizard.views import NamedUrlSessionWizardView

from deployments.models import Deployment
from deployments.services.launch import NeedsAcknowledgement, SpecInvalid, create_deployment, preview
from deployments.services.secrets import merge_secrets, missing_secrets
from deployments.spec import Issue
from deployments.wizard import instances, paths, summary
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
        wizard_id = kwargs.get("wizard_id", "")
        if not instances.known(request.session, wizard_id) or instances.editing(request.session, wizard_id) != kwargs.get("pk"):
            if kwargs.get("pk"):
                return redirect("deployment-change", kwargs["pk"])
            return redirect("deployment-new")
        if kwargs.get("pk") and not Deployment.objects.filter(pk=kwargs["pk"]).exists():  # torn down meanwhile
            instances.forget(request.session, wizard_id)
            messages.error(request, "That deployment is gone: there is nothing to change any more.")
            return redirect("deployment-list")
        return super().dispatch(request, *args, **kwargs)

    def get_prefix(self, request, *args, **kwargs):
        return instances.storage_prefix(kwargs["wizard_id"])

    def get_step_url(self, step):
        kwargs = {"wizard_id": self.kwargs["wizard_id"], "step": step}
        if self.kwargs.get("pk"):
            kwargs["pk"] = self.kwargs["pk"]
        return reverse(self.url_name, kwargs=kwargs)

    def get_template_names(self):
        return [f"deployments/wizard/step_{self.steps.current}.html", self.template_name]

    @cached_property
    def state(self) -> WizardState:
        return WizardState(self)

    # --- forms ----------------------------------------------------------------------------------

    def get_form_kwargs(self, step=None):
        return {"state": self.state}

    def get_form(self, step=None, data=None, files=None):
        """Coming back to the last step (a GET), its form is not bound to what was posted before: nothing
        is shown wrong before the user acts, unless finishing just sent the user back there."""
        if (step or self.steps.current) == "review" and self.request.method == "GET" \
                and self.kwargs.get("step") != self.done_step_name and not self.state.extra.get("review_errors"):
            data = files = None
        return super().get_form(step, data, files)

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
        extra["problems"] = []
        extra.pop("pending_issues", None)
        extra.pop("ova_check", None)
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
        """Back, the step list and the review's links keep what was typed on this step, valid or not (no
        passwords): a step with problems keeps its draft (so later steps still know its choices) and is
        marked, to be fixed before deploying."""
        step = self.posted_step()
        if step and step != "review":
            form = self.get_form(step, data=self.request.POST, files=self.request.FILES)
            if form.is_valid():
                self.storage.set_step_data(step, self.process_step(form))
            else:
                self.storage.set_step_data(step, self.sanitized(form))
                draft = form.draft_fragment()
                self.state.set_fragment(step, draft, problem=True)
            self.forget_form_list()
        return super().render_goto_step(goto_step, **kwargs)

    def render(self, form=None, **kwargs):
        form = form or self.get_form()
        if form.step == "review" and self.request.method == "GET":
            self.state.extra.pop("review_errors", None)  # shown once
        self.apply_pending(form)
        return super().render(form, **kwargs)

    def render_done(self, form, **kwargs):
        """formtools' version, except that the storage is kept when done() sends the user back, and that a
        step never posted keeps the fragment it was given (editing: the current revision's)."""
        if kwargs.get("step") != self.done_step_name:
            return redirect(self.get_step_url(self.done_step_name))
        final = {}
        for step in self.get_form_list():
            data = self.storage.get_step_data(step)
            if data is None and self.state.editing and self.state.completed(step):
                continue
            form_obj = self.get_form(step=step, data=data)
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
        if target == "review":
            self.state.extra["review_errors"] = True
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
        if self.state.editing:
            return self.apply_change(form_dict["review"])
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
        self.finish()
        messages.success(self.request, f"Deployment {deployment.name} is created and queued.")
        return redirect("deployment-detail", deployment.pk)

    def apply_change(self, review):
        """Apply the reviewed difference: a new revision and its change run (what the API's changes/ does)."""
        from deployments.services import changes

        deployment = self.state.deployment
        data = merge_secrets(self.state.public_spec(), self.state.secrets())
        try:
            run = changes.apply(deployment, data, user=self.request.user, note=review.revision_note,
                                acknowledged=review.acknowledged)
        except changes.ChangeRefused as exc:
            messages.error(self.request, f"Not applied: {exc}")
            return redirect(self.get_step_url("review"))
        except NeedsAcknowledgement:
            return self.send_back([], step="review")
        except SpecInvalid as exc:
            return self.send_back(exc.issues)
        audit.record(self.request, "deployment.change", deployment,
                     {"revision": run.revision.number, "run": run.number, "rollback_to": None, "via": "wizard"})
        self.finish()
        messages.success(self.request, f"Revision {run.revision.number} of {deployment.name} is recorded; change run "
                                       f"{run.number} applies it. It becomes current when the run succeeds.")
        return redirect("deployment-detail", deployment.pk)

    def finish(self) -> None:
        self.state.forget_all_secrets()
        self.storage.reset()
        instances.forget(self.request.session, self.kwargs["wizard_id"])

    # --- page ----------------------------------------------------------------------------------

    def step_list(self) -> list[dict]:
        current = self.steps.current
        names = list(self.get_form_list())
        frontier = next((name for name in names if not self.state.visited(name)), None)
        items = []
        for number, (name, form_class) in enumerate(self.get_form_list().items(), start=1):
            if name == current:
                state = "current"
            elif self.state.has_problem(name):
                state = "problem"
            elif self.state.completed(name):
                state = "done"
            else:
                state = "todo"
            reachable = name != current and (self.state.visited(name) or name == frontier or self.state.editing)
            title = "Review the change" if name == "review" and self.state.editing else form_class.title
            items.append({"name": name, "title": title, "number": number, "reachable": reachable, "state": state})
        return items

    def error_summary(self, form) -> list[dict]:
        titles = {name: form_class.title for name, form_class in self.get_form_list().items()}
        entries = []
        for error in form.non_field_errors():
            step = getattr(form, "step_links", {}).get(error)
            entries.append({"target": "", "text": error, "step": step if step in titles else None,
                            "title": titles.get(step, "")})
        for name, field in form.fields.items():
            for error in form.errors.get(name, []):
                suffix = "_0" if isinstance(field.widget, (RadioSelect, CheckboxSelectMultiple)) else ""
                entries.append({"target": form[name].auto_id + suffix, "text": f"{field.label}: {error}"})
        first = next((name for name in form.fields if name in form.errors), None)
        if first:
            form.fields[first].widget.attrs["autofocus"] = True
        return entries

    def notes(self, form) -> list[dict]:
        """The step's advisories (not blocking: acknowledged on the review), with the step each concerns."""
        titles = {name: form_class.title for name, form_class in self.get_form_list().items()}
        found = []
        for issue in getattr(form, "advisories", []):
            step = self.state.note_links.get(issue.message)
            found.append({"text": paths.message_for(issue), "step": step if step in titles else None,
                          "title": titles.get(step, "")})
        return found

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        summary_entries = self.error_summary(form)
        context.update(step_list=self.step_list(), step_form=form, summary=summary_entries,
                       summary_focus=bool(summary_entries) and not any(entry["target"] for entry in summary_entries),
                       wizard_id=self.kwargs["wizard_id"], is_last=self.steps.current == self.steps.last,
                       notes=self.notes(form) if form.is_bound else [], editing=self.state.deployment)
        context.update(self.action_context(form, kwargs))
        if self.steps.current == "appliance" and self.state.ova_facts:
            from inventory.clients.download import size_text

            facts = dict(self.state.ova_facts)
            facts["size_text"] = size_text(facts["size"]) if facts.get("size") is not None else ""
            context["ova_check"] = facts
        if self.steps.current == "review":
            titles = {name: form_class.title for name, form_class in self.get_form_list().items()}
            context["review_blocking"] = [
                {"message": paths.message_for(issue), "step": step if step in titles else "review",
                 "title": titles.get(step, "Review")} for issue, step in getattr(form, "blocking", [])]
            plan = None
            if form.proposal is not None:
                context["change"] = summary.change(form.proposal)
                plan = summary.plan_facts(form.proposal.new_plan)
            elif not self.state.editing:
                try:
                    plan = preview(self.state.spec_for_checks())
                except SpecInvalid:
                    plan = None
            context["plan"] = plan
            context["sections"] = summary.sections(self.state, titles, plan)
        return context
