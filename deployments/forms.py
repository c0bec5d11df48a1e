"""Forms of the deployment and template pages (the wizard's step forms are in deployments/wizard/forms)."""

from django import forms

from deployments.services.templates import MAX_DESCRIPTION, MAX_TEMPLATE_BYTES, TemplateInvalid, load_document


class SaveTemplateForm(forms.Form):
    name = forms.CharField(label="Template name", max_length=100,
                           help_text="Saves these settings, without passwords, to deploy again later.")
    description = forms.CharField(label="Description", required=False, max_length=MAX_DESCRIPTION)


class TemplateUploadForm(forms.Form):
    file = forms.FileField(label="Template file", help_text="A JSON deployment template exported from VIO Manager.")
    name = forms.CharField(label="Name", required=False, max_length=100,
                           help_text="Leave empty to use the name in the file.")
    description = forms.CharField(label="Description", required=False, max_length=500)

    def clean_file(self) -> dict:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_TEMPLATE_BYTES:
            raise forms.ValidationError("This file is too large to be a deployment template (over 1 MB).")
        try:  # bounded: size, nesting, numbers (a deep or huge document is an error here, not a 500)
            return load_document(upload.read(MAX_TEMPLATE_BYTES + 1), upload.name)
        except TemplateInvalid as exc:
            raise forms.ValidationError(exc.issues[0].message) from None
