"""What one wizard instance knows: the spec fragment each completed step produced, the template it
started from, the ids of the passwords typed into it. All of it lives in the wizard's own session
storage (formtools' extra_data), which never holds a password.

A step is validated on a *probe*: a whole spec made of this step's fragment, the fragments of the
other steps, and harmless placeholders for steps not done yet. The spec's own validator runs on it,
and only the issues on paths this step owns count (paths.step_of), so the placeholders never show.
"""

import copy
from functools import cached_property

from deployments.models import WizardSecret
from deployments.services.secrets import PLACEHOLDER, merge_secrets, missing_secrets, with_placeholder_secrets
from deployments.spec import SCHEMA_VERSION
from deployments.spec.consistency import consistency_issues
from deployments.spec.inventory_checks import InventoryContext
from deployments.spec.validate import parse
from deployments.wizard import paths

# Placeholder addresses come from 198.18.0.0/15 (benchmarking), far from anything a user types.
SKELETON = {
    "schema_version": SCHEMA_VERSION,
    "name": "placeholder",
    "topology": "ha",
    "vcenter": {"host": "placeholder.invalid", "port": 443},
    "datacenter": "placeholder",
    "management_cluster": "placeholder",
    "management_datastores": ["placeholder"],
    "management_network": {"portgroup": "placeholder", "ip_ranges": [{"start": "198.18.0.10", "end": "198.18.0.250"}],
                           "netmask": "255.255.255.0", "gateway": "198.18.0.1", "dns_servers": []},
    "external_network": {"portgroup": "placeholder", "ip_ranges": [{"start": "198.19.0.10", "end": "198.19.0.250"}],
                         "netmask": "255.255.255.0", "gateway": "198.19.0.1", "dns_servers": []},
    "load_balancer": {"public_vip": "198.19.0.5", "public_hostname": "placeholder.invalid"},
    "compute_clusters": [{"cluster": "placeholder", "datastores": ["placeholder"]}],
    "glance_datastore": "placeholder",
    "neutron": {"mode": "dvs"},
    "keystone": {"admin_user": "admin", "admin_project": "admin", "backend": "sql"},
    "appliance_ova": {"url": "https://placeholder.invalid/appliance.ova"},
}
NEUTRON_PLACEHOLDERS = {
    "dvs": {"switch": "placeholder", "trunk_portgroup": "placeholder"},
    "nsx": {"manager": {"host": "placeholder.invalid", "port": 443}, "transport_zone": "placeholder",
            "edge_cluster": "placeholder", "vds": "placeholder", "external_portgroup": "placeholder"},
}
LDAP_PLACEHOLDER = {"url": "ldap://placeholder.invalid", "bind_user": "placeholder", "user_tree_dn": "dc=placeholder"}


def deep_merge(base: dict, *layers: dict) -> dict:
    result = copy.deepcopy(base)
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = deep_merge(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


def _complete_sections(spec: dict) -> dict:
    """Give the chosen Neutron mode and Keystone backend their sections (placeholders if no step
    has given them yet) and drop the other mode's."""
    neutron = spec.get("neutron") or {}
    mode = neutron.get("mode")
    if mode in NEUTRON_PLACEHOLDERS:
        for other in NEUTRON_PLACEHOLDERS:
            if other != mode:
                neutron.pop(other, None)
        neutron.setdefault(mode, copy.deepcopy(NEUTRON_PLACEHOLDERS[mode]))
    keystone = spec.get("keystone") or {}
    if keystone.get("backend") == "ldap":
        keystone.setdefault("ldap", copy.deepcopy(LDAP_PLACEHOLDER))
    else:
        keystone.pop("ldap", None)
    return spec


class WizardState:
    def __init__(self, view):
        self.view = view
        self.storage = view.storage
        self.user = view.request.user

    # --- storage ------------------------------------------------------------------------------

    @property
    def extra(self) -> dict:
        return self.storage.extra_data

    def _bucket(self, name: str) -> dict:
        return self.extra.setdefault(name, {})

    @property
    def template_spec(self) -> dict | None:
        return self.extra.get("template_spec")

    def steps(self) -> list[str]:
        return list(self.view.get_form_list())

    def fragment(self, step: str) -> dict | None:
        return self._bucket("fragments").get(step)

    def set_fragment(self, step: str, fragment: dict | None) -> None:
        if fragment is None:
            self._bucket("fragments").pop(step, None)
        else:
            self._bucket("fragments")[step] = fragment
        self.__dict__.pop("inventory_cache", None)
        self.__dict__.pop("vcenter", None)

    def completed(self, step: str) -> bool:
        return self.fragment(step) is not None

    # --- specs --------------------------------------------------------------------------------

    def merged(self, *, without: str | None = None) -> dict:
        """The fragments of the steps that apply now, in step order."""
        fragments = self._bucket("fragments")
        return deep_merge({}, *(fragments[s] for s in self.steps() if s != without and s in fragments))

    def probe(self, step: str, fragment: dict, secrets: dict | None = None) -> dict:
        spec = _complete_sections(deep_merge(SKELETON, self.merged(without=step), fragment))
        filled = {path: PLACEHOLDER for path in missing_secrets(spec)}
        filled.update({path: value for path, value in (secrets or {}).items() if value})
        return merge_secrets(spec, filled)

    def check(self, step: str, fragment: dict, *, secrets: dict | None = None, inventory=None) -> list:
        """The spec's issues on the paths `step` owns: shape, consistency, then the inventory slice
        (`inventory(spec)`, given only when the probe parses)."""
        spec, issues = parse(self.probe(step, fragment, secrets))
        if spec is not None:
            issues = consistency_issues(spec)
            if inventory is not None:
                issues += inventory(spec)
        return [issue for issue in issues if paths.step_of(issue.path) == step]

    def public_spec(self) -> dict:
        return self.merged()

    def spec_for_checks(self) -> dict:
        """The whole spec with placeholder secrets: for previews and checks, never for a deployment."""
        return with_placeholder_secrets(self.public_spec())

    # --- inventory ----------------------------------------------------------------------------

    def known(self, step: str, key: str):
        """A value as the step gave it, else as the template has it (to fill the pickers of the
        steps that come before that one is confirmed)."""
        fragment = self.fragment(step)
        if fragment is not None:
            return fragment.get(key)
        return (self.template_spec or {}).get(key)

    @property
    def vcenter_ref(self) -> tuple[str, int] | None:
        ref = self.known("vcenter", "vcenter")
        return (ref["host"], ref.get("port", 443)) if ref else None

    @cached_property
    def vcenter(self):
        from inventory.models import VCenter

        ref = self.vcenter_ref
        return VCenter.objects.filter(host=ref[0], port=ref[1]).first() if ref else None

    @cached_property
    def inventory_cache(self) -> dict:
        return {}

    def inventory(self, datacenter: str | None = None) -> InventoryContext:
        """The synced inventory of the wizard's vCenter (one context per datacenter per request)."""
        if datacenter is None:
            datacenter = self.known("datacenter", "datacenter")
        if datacenter not in self.inventory_cache:
            self.inventory_cache[datacenter] = InventoryContext(self.vcenter, datacenter)
        return self.inventory_cache[datacenter]

    @property
    def management_cluster(self) -> str | None:
        return self.known("datacenter", "management_cluster")

    # --- secrets: only WizardSecret ids are kept ----------------------------------------------

    def has_secret(self, path: str) -> bool:
        return path in self._bucket("secret_ids")

    def keep_secret(self, path: str, value: str) -> None:
        ids = self._bucket("secret_ids")
        old = ids.get(path)
        ids[path] = WizardSecret.objects.create(owner=self.user, value=value).pk
        if old:
            WizardSecret.objects.filter(pk=old, owner=self.user).delete()

    def forget_secret(self, path: str) -> None:
        old = self._bucket("secret_ids").pop(path, None)
        if old:
            WizardSecret.objects.filter(pk=old, owner=self.user).delete()

    def forget_all_secrets(self) -> None:
        for path in list(self._bucket("secret_ids")):
            self.forget_secret(path)

    def secrets(self) -> dict[str, str]:
        """{path: password} of the secrets the spec needs, decrypted (for create_deployment only)."""
        ids = self._bucket("secret_ids")
        rows = {row.pk: row for row in WizardSecret.objects.filter(owner=self.user, pk__in=list(ids.values()))}
        return {path: rows[pk].value.reveal() for path, pk in ids.items() if pk in rows}
