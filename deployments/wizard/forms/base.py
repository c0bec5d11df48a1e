"""The base of every wizard step: the step's fields -> its fragment of the spec -> the spec's own
checks on that slice, with each issue put on the field its path maps to (paths.FIELDS)."""

from django import forms

from deployments.wizard import paths


class StepForm(forms.Form):
    step = ""  # the step's name in the wizard (and in paths.FIELDS)
    title = ""
    intro = ""
    secret_fields: dict[str, str] = {}  # form field -> spec path of a password kept as a WizardSecret

    def __init__(self, *args, state, **kwargs):
        super().__init__(*args, **kwargs)
        self.state = state
        self.advisories = []
        if not self.is_bound and state.template_spec:
            self.initial = {**self.from_spec(state.template_spec), **self.initial}
        self.setup()

    # --- what each step defines -------------------------------------------------------------

    def setup(self) -> None:
        """Fill the pickers from the synced inventory."""

    def from_spec(self, spec: dict) -> dict:
        """Initial values from a template's spec."""
        return {}

    def fragment(self) -> dict:
        """This step's part of the spec, from cleaned_data (without passwords)."""
        return {}

    def inventory_issues(self, spec) -> list:
        """Checks of this slice against the synced inventory (spec: the parsed probe)."""
        return []

    # --- shared -------------------------------------------------------------------------------

    def value(self, name: str, default=None):
        value = getattr(self, "cleaned_data", {}).get(name, default)
        return default if value in (None, "") else value

    def typed_secrets(self) -> dict[str, str]:
        return {path: self.value(field) for field, path in self.secret_fields.items() if self.value(field)}

    def clean(self):
        cleaned = super().clean()
        issues = self.state.check(self.step, self.fragment(), secrets=self.typed_secrets(), inventory=self.inventory_issues)
        paths.apply_issues(self, issues)
        return cleaned


def compact(mapping: dict) -> dict:
    """Leave out what was not given, so the spec says "is required" instead of judging an empty value."""
    return {key: value for key, value in mapping.items() if value not in (None, "", [])}
