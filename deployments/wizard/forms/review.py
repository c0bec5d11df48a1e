"""The last step. Deploying: VIO's "Ready to complete" — every choice and the plan, the whole spec checked
once more, the warnings to acknowledge. Editing a deployment: the reviewed difference from the current
revision (services.changes.propose, the API's change preview), its checks and warnings, and a note."""

import hashlib

from django import forms

from deployments.services.launch import SpecInvalid, check, warning_key
from deployments.wizard import paths, registry, spanning
from deployments.wizard.forms.base import StepForm


class ReviewForm(StepForm):
    step = "review"
    title = "Ready to complete"
    intro = ("What will be built, checked once more against the synced inventory and DNS. Acknowledge each warning, "
             "then deploy.")

    def setup(self):
        self.spec, self.proposal, self.refusal = None, None, ""
        if self.state.editing:
            self.title, self.intro = "Review the change", (
                "What changes on the running cloud, checked against the synced inventory: the settings, the VMs "
                "added and removed, the configuration files and the services reconfigured. Apply it to start a "
                "change run; the new revision becomes current when the run succeeds.")
            blocking, advisory = self._propose()
        else:
            self.spec, blocking, advisory = check(self.state.spec_for_checks(), live=True)
            more = self._ova_issues()
            blocking, advisory = blocking + [i for i in more if i.blocking], advisory + [i for i in more if not i.blocking]
        self.blocking = [(issue, spanning.reported_step(self.state, issue, self.spec)) for issue in blocking]
        self.ack_keys: dict[str, str] = {}
        for issue in advisory:
            key = warning_key(issue)
            name = "ack_" + hashlib.sha256(key.encode()).hexdigest()[:12]
            if name in self.fields:
                continue
            self.fields[name] = forms.BooleanField(
                label=paths.message_for(issue), required=True,
                help_text=f"Found on the step {self.step_title(issue)}. Tick to acknowledge it and "
                          f"{'apply' if self.state.editing else 'deploy'} anyway.",
                error_messages={"required": f"Acknowledge this warning to {'apply' if self.state.editing else 'deploy'}, "
                                            "or go back and fix what it says."})
            self.ack_keys[name] = key
        if self.state.editing:
            self.fields["note"] = forms.CharField(label="Note for this revision", required=False, max_length=500,
                                                  help_text="Why this change: kept with the revision, e.g. "
                                                            "\"Compute-B for the new project\".")

    def _ova_issues(self) -> list:
        """The OVA's URL as last checked on its step (checked now if it never was, or changed)."""
        ova = self.state.public_spec().get("appliance_ova") or {}
        if not ova.get("url"):
            return []
        if self.state.editing:
            from deployments.services import revisions

            current = revisions.current(self.state.deployment)
            if current is not None and (current.spec.get("appliance_ova") or {}) == ova:
                return []  # the OVA the cloud was built from
        return self.state.check_ova(ova["url"])

    def _propose(self):
        from deployments.services import changes
        from deployments.services.secrets import merge_secrets

        data = merge_secrets(self.state.public_spec(), self.state.secrets())
        try:
            self.proposal = changes.propose(self.state.deployment, data)
        except changes.ChangeRefused as exc:
            self.refusal = str(exc)
            return [], []
        except SpecInvalid as exc:
            return exc.issues, []
        self.spec = self.proposal.spec
        more = self._ova_issues()
        return (self.proposal.blocking + [i for i in more if i.blocking],
                self.proposal.advisory + [i for i in more if not i.blocking])

    @staticmethod
    def step_title(issue) -> str:
        step = paths.locate(issue.path).step
        form = registry.form_for(step)
        return form.title if form is not None else step

    @property
    def unchanged(self) -> bool:
        return self.proposal is not None and not self.proposal.changes

    def clean(self):
        if self.refusal:
            self.add_error(None, self.refusal)
        elif self.blocking:
            verb = "applying" if self.state.editing else "deploying"
            self.add_error(None, f"These problems must be fixed before {verb}: use the links to go to their steps.")
        elif self.unchanged:
            self.add_error(None, "Nothing to apply: every setting is as in the current revision. Change a step first.")
        return self.cleaned_data

    @property
    def acknowledged(self) -> set[str]:
        return {key for name, key in self.ack_keys.items() if self.cleaned_data.get(name)}

    @property
    def revision_note(self) -> str:
        return self.cleaned_data.get("note", "") if self.state.editing else ""

    @property
    def ack_fields(self) -> list:
        return [self[name] for name in self.ack_keys]
