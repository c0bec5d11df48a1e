"""The base of every wizard step: the step's fields -> its fragment of the spec -> the spec's own
checks on that slice, with each issue put on the field its path maps to (paths.FIELDS).

Editing a deployment, what a running cloud cannot change (services.changes.IMMUTABLE) is shown read
only, with the reason: a disabled field, whose value is the current one whatever is posted."""

from django import forms

from deployments.wizard import paths, registry


class StepForm(forms.Form):
    step = ""  # the step's name in the wizard (and in paths.FIELDS)
    title = ""
    intro = ""
    secret_fields: dict[str, str] = {}  # form field -> spec path of a password kept as a WizardSecret

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.step:
            registry.FORMS[cls.step] = cls

    def __init__(self, *args, state, **kwargs):
        super().__init__(*args, **kwargs)
        self.state = state
        self.advisories = []
        self.step_links: dict[str, str] = {}  # error text -> the step it concerns (checks that span steps)
        self.draft: dict | None = None  # the fragment of what the fields hold, before the spec's checks
        self.locked = state.locked(self.step)
        if state.template_spec and (not self.is_bound or self.locked):  # a read-only field's value is its initial
            self.initial = {**self.from_spec(state.template_spec), **self.initial}
        self.setup()
        self.lock()

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

    def lock(self) -> None:
        for name, why in self.locked.items():
            if name in self.fields:
                field = self.fields[name]
                field.disabled = True
                field.help_text = f"Cannot change on a running cloud: {why}."
                field.locked = True

    def value(self, name: str, default=None):
        value = getattr(self, "cleaned_data", {}).get(name, default)
        return default if value in (None, "") else value

    def typed_secrets(self) -> dict[str, str]:
        return {path: self.value(field) for field, path in self.secret_fields.items() if self.value(field)}

    def clean(self):
        cleaned = super().clean()
        self.draft = self.fragment()
        issues = self.state.check(self.step, self.draft, secrets=self.typed_secrets(), inventory=self.inventory_issues)
        paths.apply_issues(self, issues)
        return cleaned

    def draft_fragment(self) -> dict | None:
        """What this step holds as far as its fields read, valid or not (for a step left with problems)."""
        if self.draft is None and hasattr(self, "cleaned_data"):
            try:
                self.draft = self.fragment()
            except (KeyError, TypeError, ValueError):
                return None
        return self.draft


def compact(mapping: dict) -> dict:
    """Leave out what was not given, so the spec says "is required" instead of judging an empty value."""
    return {key: value for key, value in mapping.items() if value not in (None, "", [])}
