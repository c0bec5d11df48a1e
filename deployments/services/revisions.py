"""A deployment's spec revisions: recorded when a deployment is created and at each change, made
current when the run applying them succeeds, and compared field by field (secrets only as
"changed")."""

import json

from django.db import transaction
from django.utils import timezone

from deployments.models import Deployment, SpecRevision
from deployments.services.secrets import OVA_URL
from deployments.spec import secret_paths

SECRET_BEFORE, SECRET_AFTER = "(secret)", "(secret, changed)"  # what a diff shows for a secret
ENGINE_KEYS = ("engine.",)  # deployment secrets that belong to the engine, not to a spec revision


def record(deployment: Deployment, public: dict, secrets: dict, *, user=None, note: str = "") -> SpecRevision:
    """The next revision of the deployment: the spec without secrets, its secrets encrypted apart."""
    with transaction.atomic():
        Deployment.objects.select_for_update().filter(pk=deployment.pk).first()  # serialises numbers
        last = deployment.revisions.order_by("-number").values_list("number", flat=True).first() or 0
        return SpecRevision.objects.create(deployment=deployment, number=last + 1, spec=public,
                                           secrets=json.dumps(secrets), created_by=user, note=note[:500])


def secrets_of(revision: SpecRevision) -> dict:
    return json.loads(revision.secrets.reveal())


def current(deployment: Deployment) -> SpecRevision | None:
    if deployment.current_revision is None:
        return None
    return deployment.revisions.filter(number=deployment.current_revision).first()


def apply(revision: SpecRevision) -> None:
    """The run applying this revision succeeded: it is the deployment's current spec now. The
    deployment's own secrets (the engine's keys) are kept beside the revision's."""
    deployment = revision.deployment
    kept = {key: value for key, value in json.loads(deployment.secrets.reveal()).items() if key.startswith(ENGINE_KEYS)}
    deployment.spec, deployment.secrets = revision.spec, json.dumps({**secrets_of(revision), **kept})
    deployment.current_revision = revision.number
    deployment.save(update_fields=["spec", "secrets", "current_revision", "updated_at"])
    SpecRevision.objects.filter(pk=revision.pk).update(applied_at=timezone.now())


# --- the difference between two specs --------------------------------------------------------------


def flatten(data, prefix: str = "") -> dict[str, object]:
    """{JSON path: value} of a spec. Lists of objects with a name (compute clusters) are keyed by it,
    so removing one shows as that one gone, not as every later one changed; other lists are one value."""
    flat: dict[str, object] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    elif isinstance(data, list) and data and all(isinstance(item, dict) and "cluster" in item for item in data):
        for item in data:
            rest = {k: v for k, v in item.items() if k != "cluster"}
            flat[f"{prefix}[{item['cluster']}]"] = "present"
            flat.update(flatten(rest, f"{prefix}[{item['cluster']}]"))
    elif isinstance(data, list):
        flat[prefix] = ", ".join(_scalar(item) for item in data)
    else:
        flat[prefix] = data
    return flat


def _set(flat: dict) -> dict:
    """Only the fields that hold a value: an empty default ("" or no list) is the same as none."""
    return {path: value for path, value in flat.items() if value not in (None, "", [])}


def _scalar(item) -> str:
    if isinstance(item, dict) and set(item) == {"start", "end"}:
        return f"{item['start']}-{item['end']}" if item["start"] != item["end"] else str(item["start"])
    return json.dumps(item, sort_keys=True) if isinstance(item, (dict, list)) else str(item)


def diff(old_public: dict, old_secrets: dict, new_public: dict, new_secrets: dict) -> list[dict]:
    """[{"path", "old", "new"}] of every field that differs; a secret's values are never shown."""
    before, after = _set(flatten(old_public)), _set(flatten(new_public))
    changes = [{"path": path, "old": before.get(path), "new": after.get(path)}
               for path in sorted(set(before) | set(after)) if before.get(path) != after.get(path)]
    for path in [*secret_paths(), OVA_URL]:
        if old_secrets.get(path) != new_secrets.get(path) and (path in old_secrets or path in new_secrets):
            changes.append({"path": path, "old": SECRET_BEFORE if path in old_secrets else None,
                            "new": SECRET_AFTER if path in new_secrets else None})
    return changes


def diff_revisions(a: SpecRevision, b: SpecRevision) -> list[dict]:
    return diff(a.spec, secrets_of(a), b.spec, secrets_of(b))
