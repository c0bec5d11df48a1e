"""Split a spec's secret fields from the rest, and put them back."""

import copy

from deployments.spec import secret_paths


def _walk(data: dict, path: str):
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None, leaf
    return (node if isinstance(node, dict) else None), leaf


# An OVA URL with a user name and password in it: the whole URL is kept as a secret, the spec shows it
# without them (the API, the pages and templates never carry them).
OVA_URL = "appliance_ova.url"


def split_secrets(data: dict) -> tuple[dict, dict]:
    """(the spec without secrets, {path: value} of the secrets present)."""
    from inventory.clients.download import redact

    public = copy.deepcopy(data)
    found = {}
    for path in secret_paths():
        node, leaf = _walk(public, path)
        if node is not None and leaf in node:
            value = node.pop(leaf)
            if value not in (None, ""):
                found[path] = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    node, leaf = _walk(public, OVA_URL)
    url = node.get(leaf) if node is not None else None
    if isinstance(url, str) and redact(url) != url:
        found[OVA_URL], node[leaf] = url, redact(url)
    return public, found


def merge_secrets(public: dict, secrets: dict) -> dict:
    data = copy.deepcopy(public)
    for path, value in secrets.items():
        node, leaf = _walk(data, path)
        if node is not None:
            node[leaf] = value
    return data


def missing_secrets(public: dict) -> list[str]:
    """Secret paths the spec's sections call for (e.g. the LDAP bind password only with LDAP)."""
    needed = []
    for path in secret_paths():
        node, _ = _walk(public, path)
        if node is not None:
            needed.append(path)
    return needed


PLACEHOLDER = "placeholder-secret-for-checks"


def with_placeholder_secrets(public: dict) -> dict:
    """A spec without secrets, with placeholders where its sections need them: fit for checks and
    previews, never for a deployment."""
    return merge_secrets(public, {path: PLACEHOLDER for path in missing_secrets(public)})


def dump_with_secrets(spec) -> dict:
    """The spec as JSON data with its secrets revealed (pydantic masks SecretStr when dumping)."""
    data = spec.model_dump(mode="json", exclude_none=True)
    for path in secret_paths():
        value = spec
        for part in path.split("."):
            value = getattr(value, part, None)
        if value is not None:
            node, leaf = _walk(data, path)
            if node is not None:
                node[leaf] = value.get_secret_value()
    return data
