"""OpenStack's identity (Keystone), the syslog server, and the appliance OVA."""

from django import forms

from deployments.wizard.forms.base import StepForm, compact

KEEP = "Leave empty to keep the password you typed before."
KEEP_CURRENT = "Leave empty to keep the current password."
BACKENDS = [("sql", "SQL database: users and projects kept by Keystone"),
            ("ldap", "Active Directory or another LDAP server")]
LDAP_FIELDS = {"ldap_url": "url", "ldap_bind_user": "bind_user", "ldap_user_tree_dn": "user_tree_dn",
               "ldap_user_filter": "user_filter", "ldap_ca_certificate": "ca_certificate"}


def password_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(label=label, required=False, strip=False, help_text=help_text,
                           widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))


class KeystoneForm(StepForm):
    step = "keystone"
    title = "OpenStack identity"
    intro = "The OpenStack administrator, and where Keystone finds users: its own SQL database, or Active Directory (LDAP)."
    secret_fields = {"admin_password": "keystone.admin_password", "ldap_bind_password": "keystone.ldap.bind_password"}

    admin_user = forms.CharField(label="Admin user", initial="admin", help_text="The OpenStack administrator's user name.")
    admin_password = password_field("Admin password", "At least 8 characters. Stored encrypted; never shown again.")
    admin_project = forms.CharField(label="Admin project", initial="admin")
    backend = forms.ChoiceField(label="Identity backend", choices=BACKENDS, initial="sql", widget=forms.RadioSelect)
    ldap_url = forms.CharField(label="LDAP URL", required=False, help_text="ldap://host:389 or ldaps://host:636")
    ldap_bind_user = forms.CharField(label="Bind user", required=False,
                                     help_text="e.g. CN=openstack,CN=Users,DC=example,DC=com")
    ldap_bind_password = password_field("Bind password", "The bind user's password. Stored encrypted.")
    ldap_user_tree_dn = forms.CharField(label="User tree DN", required=False, help_text="e.g. CN=Users,DC=example,DC=com")
    ldap_user_filter = forms.CharField(label="User filter", required=False, help_text="Optional, e.g. (memberOf=CN=OpenStack,DC=example,DC=com)")
    ldap_ca_certificate = forms.CharField(label="CA certificate (PEM)", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                          help_text="For ldaps://: the CA that signed the LDAP server's certificate.")

    def setup(self):
        for name in ("ldap_url", "ldap_bind_user", "ldap_bind_password", "ldap_user_tree_dn"):
            self.fields[name].conditional = True  # required with the LDAP backend: not marked "optional"
        for field, path in self.secret_fields.items():
            if self.state.has_secret(path):
                typed = path in self.state.extra.get("secret_ids", {})
                self.fields[field].help_text = KEEP if typed or not self.state.editing else KEEP_CURRENT
            else:
                self.fields[field].conditional = True

    def from_spec(self, spec: dict) -> dict:
        keystone = spec.get("keystone") or {}
        initial = compact({name: keystone.get(name) for name in ("admin_user", "admin_project", "backend")})
        ldap = keystone.get("ldap") or {}
        initial.update(compact({field: ldap.get(key) for field, key in LDAP_FIELDS.items()}))
        return initial

    @property
    def main_fields(self) -> list:
        return [self[name] for name in self.fields if not name.startswith("ldap_")]

    @property
    def ldap_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith("ldap_")]

    @property
    def uses_ldap(self) -> bool:
        return self.value("backend") == "ldap"

    def typed_secrets(self) -> dict[str, str]:
        typed = super().typed_secrets()
        if not self.uses_ldap:
            typed.pop("keystone.ldap.bind_password", None)
        return typed

    def clean(self):
        if not self.value("admin_password") and not self.state.has_secret("keystone.admin_password"):
            self.add_error("admin_password", "Type the OpenStack admin password.")
        if self.uses_ldap and not self.value("ldap_bind_password") and not self.state.has_secret("keystone.ldap.bind_password"):
            self.add_error("ldap_bind_password", "Type the bind user's password.")
        return super().clean()

    def fragment(self) -> dict:
        keystone = compact({name: self.value(name) for name in ("admin_user", "admin_project", "backend")})
        if self.uses_ldap:
            keystone["ldap"] = compact({key: self.value(field) for field, key in LDAP_FIELDS.items()})
        return {"keystone": keystone}


class SyslogForm(StepForm):
    step = "syslog"
    title = "Syslog server"
    intro = "Optional, and recommended: where the OpenStack VMs send their logs (e.g. vRealize Log Insight)."

    host = forms.CharField(label="Syslog server", required=False,
                           help_text="Host name or address. Leave empty to send no logs.")
    port = forms.IntegerField(label="Port", initial=514, required=False, min_value=1, max_value=65535)
    protocol = forms.ChoiceField(label="Protocol", choices=[("udp", "UDP"), ("tcp", "TCP")], initial="udp",
                                 widget=forms.RadioSelect)

    def from_spec(self, spec: dict) -> dict:
        return compact(dict(spec.get("syslog") or {}))

    def fragment(self) -> dict:
        if not self.value("host"):
            return {"syslog": None}
        return {"syslog": compact({"host": self.value("host"), "port": self.value("port", 514),
                                   "protocol": self.value("protocol", "udp")})}


OVA_SOURCES = [("url", "Download it from a URL"), ("upload", "Upload the file (or use one uploaded before)")]


class ApplianceForm(StepForm):
    step = "appliance"
    title = "Appliance OVA"
    intro = "The VIO appliance OVA: the Ubuntu template every OpenStack VM is cloned from. It is imported once."

    source = forms.ChoiceField(label="The OVA", choices=OVA_SOURCES, initial="url", required=False,
                               widget=forms.RadioSelect)
    url = forms.CharField(label="OVA URL", required=False, max_length=2048,
                          help_text="An http:// or https:// URL the appliance can download from: a public address, "
                                    "or a network the administrator allows.")
    file = forms.FileField(label="OVA file", required=False,
                           widget=forms.FileInput(attrs={"accept": ".ova,application/x-tar"}),
                           help_text="The .ova file. It is stored on the appliance once: the same file uploaded again "
                                     "is reused.")
    upload = forms.ChoiceField(label="Uploaded OVA", required=False,
                               help_text="Or an OVA uploaded before (here or through the API).")

    def setup(self):
        from django.conf import settings

        from deployments.models import ApplianceUpload
        from inventory.clients.download import size_text

        for name in ("url", "file", "upload"):
            self.fields[name].conditional = True  # required with their source: not marked "optional"
        self.fields["file"].help_text += f" At most {size_text(settings.VIO_OVA_MAX_BYTES)}."
        self.fields["upload"].choices = [("", "— none —")] + [
            (str(u.pk), f"{u.filename} · {u.size / 2**20:,.0f} MB · SHA-256 {u.sha256[:12]}… · {u.created_at:%Y-%m-%d}")
            for u in ApplianceUpload.objects.order_by("-created_at")
        ]
        self.stored = None

    def from_spec(self, spec: dict) -> dict:
        ova = spec.get("appliance_ova") or {}
        if ova.get("upload"):
            return {"source": "upload", "upload": ova["upload"]}
        return compact({"source": "url", "url": ova.get("url")})

    @property
    def chosen_source(self) -> str:
        """As chosen; when not posted (API-like posts, older pages), whatever was given."""
        source = self.value("source")
        if source in ("url", "upload"):
            return source
        return "upload" if (self.value("file") or self.value("upload")) and not self.value("url") else "url"

    def clean_file(self):
        from deployments.services.appliance import store_upload
        from inventory.services.errors import ServiceError

        given = self.cleaned_data.get("file")
        if given and self.data.get(self.add_prefix("source"), "upload") != "url":
            try:
                self.stored, _ = store_upload(given, given.name, user=self.state.user)
            except ServiceError as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from None
        return given

    def clean(self):
        if self.chosen_source == "upload":
            if self.stored is not None:
                self.cleaned_data["upload"] = str(self.stored.pk)
                # The step data the wizard keeps is the posted data: the new id goes in with it, so the
                # step re-validates (Back, Deploy) without the file.
                self.data = self.data.copy()
                self.data[self.add_prefix("upload")] = str(self.stored.pk)
                if str(self.stored.pk) not in dict(self.fields["upload"].choices):
                    self.fields["upload"].choices += [(str(self.stored.pk), self.stored.filename)]
            elif not self.value("upload") and "file" not in self.errors:
                self.add_error("file", "Choose the .ova file to upload, or an OVA uploaded before.")
        elif not self.value("url"):
            self.add_error("url", "Enter the OVA's http:// or https:// URL.")
        if self.has_error("file") or self.has_error("url"):
            return self.cleaned_data  # the spec would only repeat "give the URL or upload the file"
        return super().clean()

    def inventory_issues(self, spec) -> list:
        from deployments.services.appliance import upload_issues

        issues = upload_issues(spec.appliance_ova)
        if spec.appliance_ova.url and not any(i.path == "appliance_ova.url" for i in issues):
            issues += self.state.check_ova(spec.appliance_ova.url, fresh=True)
        return issues

    def fragment(self) -> dict:
        # The other source is None, not left out: the probe merges this over a placeholder URL.
        if self.chosen_source == "upload":
            return {"appliance_ova": {"url": None, **compact({"upload": self.value("upload")})}}
        return {"appliance_ova": {"upload": None, **compact({"url": self.value("url")})}}
