"""Parsing and validating a spec in one pass: every problem at once.

A value that does not parse (a typo in one DNS server, a missing field) must not hide the rest: the
parse errors are reported, the values that caused them are replaced by stand-ins (STAND_INS; a range
by a reversed one that no check counts), and the consistency and inventory checks run on the result.
Their findings on a stand-in, on what contains it or on what reads it are left out (the parse error
already says what to fix there)."""

import copy

from pydantic import ValidationError

from deployments.spec.consistency import consistency_issues
from deployments.spec.issues import Issue
from deployments.spec.model import SCHEMA_VERSION, DeploymentSpec

FRIENDLY = {
    "extra_forbidden": "is not a field of a deployment spec (schema version 1); remove it",
    "missing": "is required",
}

# A valid spec whose values stand in for the ones that did not parse; addresses from 198.18.0.0/15
# (benchmarking), far from anything a user types.
STAND_INS = {
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
    "neutron": {"mode": "dvs", "dvs": {"switch": "placeholder", "trunk_portgroup": "placeholder"}},
    "keystone": {"admin_user": "admin", "admin_password": "placeholder-secret", "admin_project": "admin", "backend": "sql"},
    "appliance_ova": {"url": "https://placeholder.invalid/appliance.ova"},
}
# Sections a spec may leave out, with their own stand-ins.
SECTION_STAND_INS = {
    ("keystone", "ldap"): {"url": "ldap://placeholder.invalid", "bind_user": "placeholder",
                           "bind_password": "placeholder-secret", "user_tree_dn": "dc=placeholder"},
    ("neutron", "nsx"): {"manager": {"host": "placeholder.invalid", "port": 443}, "transport_zone": "placeholder",
                         "edge_cluster": "placeholder", "vds": "placeholder", "external_portgroup": "placeholder"},
    ("syslog",): {"host": "placeholder.invalid", "port": 514, "protocol": "udp"},
}
# Items of lists that stand in without being counted or compared: a reversed range, an unused address.
ITEM_STAND_INS = {"ip_ranges": {"start": "198.18.0.1", "end": "198.18.0.0"}, "dns_servers": "198.18.0.2",
                  "management_datastores": "placeholder", "datastores": "placeholder"}
REPAIR_ROUNDS = 4


def _path(loc: tuple) -> str:
    # pydantic puts the model name of a union member in loc (e.g. "str"); drop those parts.
    return ".".join(str(part) for part in _parts(loc))


VALIDATOR_TAGS = ("function-after[", "function-before[", "function-wrap[", "function-plain[")


def _parts(loc: tuple) -> list:
    return [part for part in loc if not (isinstance(part, str) and (part == "str" or part.startswith(VALIDATOR_TAGS)))]


def _message(item: dict) -> str:
    ctx = item.get("ctx") or {}
    if item["type"] == "too_long" and "max_length" in ctx:
        return f"has {ctx.get('actual_length', 'too many')} entries; at most {ctx['max_length']} are allowed. Remove some."
    if item["type"] == "string_too_long" and "max_length" in ctx:
        return f"is too long: at most {ctx['max_length']} characters are allowed. Shorten it."
    return FRIENDLY.get(item["type"]) or item["msg"].removeprefix("Value error, ")


def issues_from_validation_error(error: ValidationError, prefix: str = "") -> list[Issue]:
    issues = []
    for item in error.errors(include_url=False):
        path = prefix + _path(item["loc"])
        message = _message(item)
        issues.append(Issue(path, item["type"], message))
    return issues


def parse(data: dict) -> tuple[DeploymentSpec | None, list[Issue]]:
    """Types and formats; None and the issues when the data is not a valid spec."""
    try:
        return DeploymentSpec.model_validate(data), []
    except ValidationError as error:
        return None, issues_from_validation_error(error)


# --- stand-ins for what did not parse ------------------------------------------------------------------


def _stand_in(parts: list):
    """The stand-in for the value at `parts` (list indexes as ints); KeyError when there is none."""
    if len(parts) >= 2 and isinstance(parts[-1], int) and parts[-2] in ITEM_STAND_INS:
        return copy.deepcopy(ITEM_STAND_INS[parts[-2]])
    node, rest = STAND_INS, parts
    for section, value in SECTION_STAND_INS.items():
        if tuple(parts[:len(section)]) == section:
            node, rest = value, parts[len(section):]
    for part in rest:
        if isinstance(part, int) and isinstance(node, list) and node:
            node = node[0]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(part)
    return copy.deepcopy(node)


def _replace(data, parts: list, extra: bool) -> list | None:
    """Put a stand-in at `parts`, or remove a field that is not one; the parts replaced, or None."""
    node = data
    for part in parts[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if not parts or not isinstance(node, (dict, list)):
        return None
    last = parts[-1]
    if extra:
        if isinstance(node, dict) and last in node:
            del node[last]
            return parts
        return None
    try:
        value = _stand_in(parts)
    except KeyError:
        return None
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node):
        node[last] = value
    else:
        return None
    return parts


def _stand_in_for(data, parts: list, extra: bool) -> list | None:
    """A stand-in for the value at `parts`, else for what holds it (a list item's field: the item; a
    field no stand-in exists for: its object), up to the top-level field."""
    if extra:
        return _replace(data, parts, extra=True)
    if len(parts) >= 3 and isinstance(parts[-2], int) and parts[-3] in ITEM_STAND_INS:
        parts = parts[:-1]  # a range's start or end: the whole range stands in, uncounted
    for length in range(len(parts), 0, -1):
        done = _replace(data, parts[:length], extra=False)
        if done is not None:
            return done
    return None


def parse_with_stand_ins(data) -> tuple[DeploymentSpec | None, list[Issue], DeploymentSpec | None, frozenset[str]]:
    """(the spec or None, the parse issues, a spec to check the rest with, the paths standing in).
    The third is the spec itself when it parsed, and None when no stand-in made the data parse."""
    spec, issues = parse(data)
    if spec is not None or not isinstance(data, dict):
        return spec, issues, spec, frozenset()
    working, replaced = copy.deepcopy(data), set()
    errors = None
    for _ in range(REPAIR_ROUNDS):
        try:
            return None, issues, DeploymentSpec.model_validate(working), frozenset(replaced)
        except ValidationError as error:
            errors = error.errors(include_url=False)
        progress = False
        for item in errors:
            done = _stand_in_for(working, _parts(item["loc"]), extra=item["type"] == "extra_forbidden")
            if done is not None:
                replaced.add(".".join(str(p) for p in done))
                progress = True
        if not progress:
            break
    return None, issues, None, frozenset(replaced)


def hidden(path: str, stand_ins) -> bool:
    """An issue on a stand-in, on what holds one, or inside one."""
    return any(path == s or s.startswith(path + ".") or path.startswith(s + ".") for s in stand_ins)


def validate(data: dict, *, check_inventory: bool = True, live: bool = True, deployment=None) -> tuple[DeploymentSpec | None, list[Issue]]:
    """All checks in one pass: shape, consistency, then (optionally) the synced inventory, the addresses
    other deployments hold (all but `deployment`'s own) and live lookups. The spec is None when the
    data is not a valid spec; the issues are then its parse errors and what the other checks found
    in the rest of it."""
    spec, issues, checked, stand_ins = parse_with_stand_ins(data)
    if checked is None:
        return spec, issues
    found = consistency_issues(checked, stand_ins)
    if check_inventory:
        from deployments.spec.inventory_checks import inventory_issues

        found += inventory_issues(checked, live=live and spec is not None, deployment=deployment)
    return spec, issues + [i for i in found if not hidden(i.path, stand_ins)]
