from pydantic import ValidationError

from deployments.spec.consistency import consistency_issues
from deployments.spec.issues import Issue
from deployments.spec.model import DeploymentSpec

FRIENDLY = {
    "extra_forbidden": "is not a field of a deployment spec (schema version 1); remove it",
    "missing": "is required",
}


def _path(loc: tuple) -> str:
    # pydantic puts the model name of a union member in loc (e.g. "str"); drop those parts.
    return ".".join(str(part) for part in loc if not (isinstance(part, str) and part in ("str", "function-after[_hostname(), str]")))


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


def validate(data: dict, *, check_inventory: bool = True, live: bool = True, deployment=None) -> tuple[DeploymentSpec | None, list[Issue]]:
    """All checks: shape, consistency, then (optionally) the synced inventory, the addresses other
    deployments hold (all but `deployment`'s own) and live lookups."""
    spec, issues = parse(data)
    if spec is None:
        return None, issues
    issues = consistency_issues(spec)
    if check_inventory:
        from deployments.spec.inventory_checks import inventory_issues

        issues += inventory_issues(spec, live=live, deployment=deployment)
    return spec, issues
