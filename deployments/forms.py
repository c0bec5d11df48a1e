"""Forms of the deployment and template pages (the wizard's step forms are in deployments/wizard/forms)."""

import json

from django import forms

MAX_TEMPLATE_BYTES = 1_000_000


class SaveTemplateForm(forms.Form):
    name = forms.CharField(label="Template name", max_length=100,
                           help_text="Saves these settings, without passwords, to deploy again later.")
    description = forms.CharField(label="Description", required=False, max_length=500)


class TemplateUploadForm(forms.Form):
    file = forms.FileField(label="Template file", help_text="A JSON deployment template exported from VIO Manager.")
    name = forms.CharField(label="Name", required=False, max_length=100,
                           help_text="Leave empty to use the name in the file.")
    description = forms.CharField(label="Description", required=False, max_length=500)

    def clean_file(self) -> dict:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_TEMPLATE_BYTES:
            raise forms.ValidationError("This file is too large to be a deployment template (over 1 MB).")
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise forms.ValidationError(f"{upload.name} is not a JSON file ({exc}).") from None
