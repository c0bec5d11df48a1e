"""Where each part of a DeploymentSpec is entered in the wizard: spec path -> (step, form field).

This is the ONE mapping. A step owns every path whose longest matching prefix names that step;
issues on its paths land on the field named here (None: the step's non-field errors). A "*" segment
matches a list index; the step's form turns that index into one of its own fields (the compute step
has one row of fields per cluster). The third value names the items of a list field, so an issue on
"management_network.ip_ranges.1" reads "Line 2: ...".
"""

from dataclasses import dataclass

from deployments.wizard import registry


@dataclass(frozen=True)
class Target:
    step: str
    field: str | None
    item: str = ""  # "Line", "Address": how to name an indexed item of this field


def _network(key: str) -> dict[str, Target]:
    return {
        key: Target(key, None),
        f"{key}.portgroup": Target(key, "portgroup"),
        f"{key}.ip_ranges": Target(key, "ip_ranges", "Line"),
        f"{key}.netmask": Target(key, "netmask"),
        f"{key}.gateway": Target(key, "gateway"),
        f"{key}.dns_servers": Target(key, "dns_servers", "Address"),
    }


FIELDS: dict[str, Target] = {
    "schema_version": Target("start", None),
    "name": Target("start", "name"),
    "vcenter": Target("vcenter", "vcenter"),
    "datacenter": Target("datacenter", "datacenter"),
    "topology": Target("datacenter", "topology"),
    "management_cluster": Target("datacenter", "management_cluster"),
    "management_datastores": Target("datacenter", "management_datastores"),
    **_network("management_network"),
    **_network("external_network"),
    "load_balancer": Target("load_balancer", None),
    "load_balancer.public_vip": Target("load_balancer", "public_vip"),
    "load_balancer.public_hostname": Target("load_balancer", "public_hostname"),
    "compute_clusters": Target("compute", None),
    "compute_clusters.*": Target("compute", "datastores_{row}"),
    "compute_clusters.*.cluster": Target("compute", "use_{row}"),
    "compute_clusters.*.datastores": Target("compute", "datastores_{row}"),
    "compute_clusters.*.datastore_regex": Target("compute", "regex_{row}"),
    "glance_datastore": Target("glance", "datastore"),
    "neutron": Target("neutron", "mode"),
    "neutron.dvs": Target("dvs", None),
    "neutron.dvs.switch": Target("dvs", "switch"),
    "neutron.dvs.trunk_portgroup": Target("dvs", "trunk_portgroup"),
    "neutron.nsx": Target("nsx", None),
    "neutron.nsx.manager": Target("nsx", "manager"),
    "neutron.nsx.transport_zone": Target("nsx", "transport_zone"),
    "neutron.nsx.edge_cluster": Target("nsx", "edge_cluster"),
    "neutron.nsx.vds": Target("nsx", "vds"),
    "neutron.nsx.external_portgroup": Target("nsx", "external_portgroup"),
    "keystone": Target("keystone", "backend"),
    "keystone.admin_user": Target("keystone", "admin_user"),
    "keystone.admin_password": Target("keystone", "admin_password"),
    "keystone.admin_project": Target("keystone", "admin_project"),
    "keystone.backend": Target("keystone", "backend"),
    "keystone.ldap": Target("keystone", "backend"),
    "keystone.ldap.url": Target("keystone", "ldap_url"),
    "keystone.ldap.bind_user": Target("keystone", "ldap_bind_user"),
    "keystone.ldap.bind_password": Target("keystone", "ldap_bind_password"),
    "keystone.ldap.user_tree_dn": Target("keystone", "ldap_user_tree_dn"),
    "keystone.ldap.user_filter": Target("keystone", "ldap_user_filter"),
    "keystone.ldap.ca_certificate": Target("keystone", "ldap_ca_certificate"),
    "syslog": Target("syslog", "host"),
    "syslog.host": Target("syslog", "host"),
    "syslog.port": Target("syslog", "port"),
    "syslog.protocol": Target("syslog", "protocol"),
    "appliance_ova": Target("appliance", "url"),
    "appliance_ova.url": Target("appliance", "url"),
    "appliance_ova.upload": Target("appliance", "upload"),
}
REVIEW = Target("review", None)  # anything unmapped: shown on the review step

# Messages whose pydantic wording shows a regular expression or a type name instead of what to type.
FRIENDLY = {
    ("keystone.ldap.url", "string_pattern_mismatch"): "Enter the directory's URL: ldap://host:389 or ldaps://host:636.",
    ("appliance_ova.url", "string_pattern_mismatch"): "Enter the OVA's http:// or https:// URL.",
    ("compute_clusters", "too_short"): "Choose at least one compute cluster.",
    ("management_datastores", "too_short"): "Choose at least one datastore.",
    ("management_network.ip_ranges", "too_short"): "Give at least one range.",
    ("external_network.ip_ranges", "too_short"): "Give at least one range.",
    ("management_network.dns_servers", "too_long"): "Give at most 3 DNS servers.",
    ("external_network.dns_servers", "too_long"): "Give at most 3 DNS servers.",
}


# Spec messages that continue their field's name, and lower-case words that begin a sentence (a
# message may also begin with a name, e.g. "localhost resolves to ...", which keeps its case).
PREDICATES = {"is", "must", "has", "should"}
SENTENCE_STARTS = {"the", "use", "give", "choose", "remove", "mode", "backend", "add", "take", "enter"}


@dataclass(frozen=True)
class Located:
    target: Target
    indexes: tuple[int, ...]  # the list indexes the "*" segments matched
    rest: tuple[str, ...]  # the path's segments after the matched prefix

    @property
    def step(self) -> str:
        return self.target.step


def _matches(pattern: list[str], parts: list[str]) -> tuple[int, ...] | None:
    if len(pattern) > len(parts):
        return None
    indexes = []
    for want, got in zip(pattern, parts):
        if want == "*":
            if not got.isdigit():
                return None
            indexes.append(int(got))
        elif want != got:
            return None
    return tuple(indexes)


def locate(path: str) -> Located:
    parts = path.split(".") if path else []
    best: Located | None = None
    best_length = -1
    for prefix, target in FIELDS.items():
        pattern = prefix.split(".")
        indexes = _matches(pattern, parts)
        if indexes is not None and len(pattern) > best_length:
            best, best_length = Located(target, indexes, tuple(parts[len(pattern):])), len(pattern)
    return best or Located(REVIEW, (), tuple(parts))


def step_of(path: str) -> str:
    return locate(path).step


def field_of(path: str, form) -> str | None:
    """The form field an issue on `path` belongs on (None: the form's non-field errors)."""
    located = locate(path)
    field = located.target.field
    if field and "{row}" in field:
        row = form.row_for_index(located.indexes[0]) if hasattr(form, "row_for_index") else None
        field = field.format(row=row) if row is not None else None
    return field if field in getattr(form, "fields", {}) else None


def label_of(path: str) -> str:
    """How a path reads away from its step (the review): "Management network: Port group"."""
    located = locate(path)
    form = registry.form_for(located.target.step)
    if form is None:
        return path
    field = form.base_fields.get(located.target.field or "")
    return f"{form.title}: {field.label}" if field is not None else form.title


def message_for(issue, label: str = "") -> str:
    """The issue's message as it reads on (or above) a field (away from its step: label_of)."""
    located = locate(issue.path)
    message = FRIENDLY.get((issue.path, issue.code)) or issue.message
    first = message.split(" ", 1)[0]
    if first in PREDICATES:  # "is required" -> "LDAP URL is required"
        message = f"{label or label_of(issue.path)} {message}"
    elif first in SENTENCE_STARTS:
        message = message[:1].upper() + message[1:]
    if located.target.item and located.rest and located.rest[0].isdigit():
        message = f"{located.target.item} {int(located.rest[0]) + 1}: {message}"
    return message


def apply_issues(form, issues) -> None:
    """Put each blocking issue on its field (or the form); keep advisory ones on form.advisories.
    A field that already has an error of its own (required, not a choice) gets no second one. An issue
    of another step (a check that spans steps, reported where it was caused) is a form error that
    links to that step (form.step_links: text -> step)."""
    already = set(getattr(form, "_errors", None) or {})
    seen = set()
    for issue in issues:
        if not issue.blocking:
            form.advisories.append(issue)
            continue
        field = field_of(issue.path, form)
        if field in already:
            continue
        label = str(form.fields[field].label) if field else ""
        text = message_for(issue, label if field else "")
        if (field, text) in seen:
            continue
        seen.add((field, text))
        form.add_error(field, text)
        owner = step_of(issue.path)
        if owner != getattr(form, "step", owner) and hasattr(form, "step_links"):
            form.step_links[text] = owner
