"""OpenStack's identity (Keystone), the syslog server, and the appliance OVA."""

from django import forms

from deployments.wizard.forms.base import StepForm, compact

KEEP = "Leave empty to keep the password you typed before."
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
                self.fields[field].help_text = KEEP
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


class ApplianceForm(StepForm):
    step = "appliance"
    title = "Appliance OVA"
    intro = "The VIO appliance OVA: the Ubuntu template every OpenStack VM is cloned from. It is imported once."

    url = forms.CharField(label="OVA URL", help_text="An http:// or https:// URL the appliance can download from.")

    def from_spec(self, spec: dict) -> dict:
        return compact({"url": (spec.get("appliance_ova") or {}).get("url")})

    def fragment(self) -> dict:
        return {"appliance_ova": compact({"url": self.value("url")})}
