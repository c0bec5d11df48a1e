from django import forms

from inventory.models import NsxManager, VCenter


class EndpointForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)

    class Meta:
        fields = ["name", "host", "port", "username", "password"]
        help_texts = {"host": "DNS name or IP address, as the appliance reaches it."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Write-only: never shown; empty keeps the stored password.
            self.fields["password"].required = False
            self.fields["password"].help_text = "Leave empty to keep the current password."
            self.initial.pop("password", None)

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data}


class VCenterForm(EndpointForm):
    class Meta(EndpointForm.Meta):
        model = VCenter
        labels = {"username": "Administrator user name"}
        help_texts = {**EndpointForm.Meta.help_texts, "username": "e.g. administrator@vsphere.local"}


class NsxManagerForm(EndpointForm):
    class Meta(EndpointForm.Meta):
        model = NsxManager
        fields = ["name", "vcenter", "host", "port", "username", "password"]
        help_texts = {**EndpointForm.Meta.help_texts, "vcenter": "The vCenter this NSX Manager is registered with."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vcenter"].queryset = VCenter.objects.exclude(certificate_sha256="").order_by("name")
        self.fields["vcenter"].empty_label = None


class AcceptCertificateForm(forms.Form):
    fingerprint = forms.CharField(widget=forms.HiddenInput)
