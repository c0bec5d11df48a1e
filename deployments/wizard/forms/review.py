"""The review step: the whole spec checked once more, the warnings to acknowledge."""

import hashlib

from django import forms

from deployments.services.launch import check, warning_key
from deployments.wizard import paths
from deployments.wizard.forms.base import StepForm


class ReviewForm(StepForm):
    step = "review"
    title = "Review"
    intro = ("What will be built, checked once more against the synced inventory and DNS. Acknowledge each warning, "
             "then deploy.")

    def setup(self):
        _, blocking, advisory = check(self.state.spec_for_checks(), live=True)
        self.blocking = [(issue, paths.locate(issue.path).step) for issue in blocking]
        self.ack_keys: dict[str, str] = {}
        for issue in advisory:
            key = warning_key(issue)
            name = "ack_" + hashlib.sha256(key.encode()).hexdigest()[:12]
            self.fields[name] = forms.BooleanField(
                label=paths.message_for(issue), required=True,
                help_text=f"Found on the step {self.step_title(issue)}. Tick to acknowledge it and deploy anyway.",
                error_messages={"required": "Acknowledge this warning to deploy, or go back and fix what it says."})
            self.ack_keys[name] = key

    @staticmethod
    def step_title(issue) -> str:
        from deployments.wizard.steps import STEPS

        step = paths.locate(issue.path).step
        return next((form.title for name, form in STEPS if name == step), step)

    def clean(self):
        if self.blocking:
            self.add_error(None, "These problems must be fixed before deploying: use the links to go to their steps.")
        return self.cleaned_data

    @property
    def acknowledged(self) -> set[str]:
        return {key for name, key in self.ack_keys.items() if self.cleaned_data.get(name)}
