from datetime import timedelta

from django import forms
from django.utils import timezone

from vio_manager.access import audit

EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="What the token is for, e.g. 'CI pipeline'.")
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")
    # One creation per form shown: a reload that posts the form again makes no second token.
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        import secrets

        super().__init__(*args, **kwargs)
        self.fields["nonce"].initial = secrets.token_urlsafe(16)

    def expires_at(self):
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, label="User", max_length=150)
    action = forms.CharField(required=False, label="Action", max_length=64,
                             help_text="e.g. vcenter.update, or vcenter for all of its actions")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"}),
                            help_text="included")

    def filters(self) -> dict:
        data = self.cleaned_data
        return {"action": data.get("action", "").strip(), "username": data.get("user", "").strip(),
                "since": audit.parse_moment(data["since"].isoformat()) if data.get("since") else None,
                "until": audit.parse_moment(data["until"].isoformat(), end=True) if data.get("until") else None}
