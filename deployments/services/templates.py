"""Deployment templates: the spec without secrets, schema-versioned, importable with clear errors."""

import copy

from django.db import transaction

from deployments.models import DeploymentTemplate
from deployments.services.secrets import split_secrets, with_placeholder_secrets
from deployments.spec import SCHEMA_VERSION, Issue
from deployments.spec.text import control_problem
from deployments.spec.validate import parse
from vio_manager import json_limits

KIND = "vio-manager/deployment-template"
MAX_TEMPLATE_BYTES = 1_000_000  # a template is a few KB
MAX_DESCRIPTION = 500


class TemplateInvalid(Exception):
    def __init__(self, issues: list[Issue]):
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues))
        self.issues = issues


def load_document(raw: bytes, file_name: str = "The file") -> dict:
    """A template file's bytes as a document, within bounds (size, nesting, numbers, text): TemplateInvalid
    naming the bound, never an exception from the JSON parser."""
    try:
        return json_limits.loads(raw, max_bytes=MAX_TEMPLATE_BYTES)
    except json_limits.JsonRefused as exc:
        raise TemplateInvalid([Issue("file", "not_a_template_file",
                                     f"{file_name} is not a deployment template's JSON: {exc}.")]) from None


def _upgrade_0_to_1(spec: dict) -> dict:
    """Version 0 (the first drafts) had one compute cluster and a flat network: keep them importable."""
    spec = copy.deepcopy(spec)
    if "compute_cluster" in spec:
        spec["compute_clusters"] = [{"cluster": spec.pop("compute_cluster"),
                                     "datastores": spec.pop("compute_datastores", [])}]
    for network in ("management_network", "external_network"):
        # Anything else of the wrong shape is left for the spec's validation to name.
        ranges = spec[network].get("ip_range") if isinstance(spec.get(network), dict) else None
        if isinstance(ranges, str):
            spec[network]["ip_ranges"] = [dict(zip(("start", "end"), part.split("-"))) for part in ranges.split(",")]
            del spec[network]["ip_range"]
    return spec


UPGRADES = {0: _upgrade_0_to_1}


def upgrade(document: dict) -> dict:
    """A template document of any known schema version, raised to the current one."""
    if not isinstance(document, dict) or not isinstance(document.get("spec"), dict):
        raise TemplateInvalid([Issue("spec", "not_a_template", "This file is not a VIO Manager deployment template: it has no 'spec' object.")])
    version = document.get("schema_version", document["spec"].get("schema_version", 0))
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 0:
        raise TemplateInvalid([Issue("schema_version", "unknown_schema_version",
                                     f"Schema version {version!r} is unknown; this VIO Manager reads versions 0 to {SCHEMA_VERSION}.")])
    spec = dict(document["spec"])
    while version < SCHEMA_VERSION:
        spec = UPGRADES[version](spec)
        version += 1
    spec["schema_version"] = SCHEMA_VERSION
    return spec


def check_template_spec(spec: dict) -> list[Issue]:
    """Shape and consistency, as if the secrets had been given (a template never holds them).
    Paths are relative to the spec."""
    from deployments.spec.consistency import consistency_issues

    public, secrets = split_secrets(spec)
    issues = []
    for path in secrets:
        issues.append(Issue(path, "secret_in_template", "A template must not hold secrets: remove this field."))
    parsed, shape_issues = parse(with_placeholder_secrets(public))
    issues += shape_issues
    if parsed is not None:
        issues += [i for i in consistency_issues(parsed) if i.blocking]
    return issues


def export_document(spec: dict, name: str = "") -> dict:
    public, _ = split_secrets(spec)
    public["schema_version"] = SCHEMA_VERSION
    return {"kind": KIND, "name": name, "schema_version": SCHEMA_VERSION, "spec": public}


@transaction.atomic
def import_template(document: dict, *, name: str = "", description: str = "", user=None) -> DeploymentTemplate:
    spec = upgrade(document)
    issues = [Issue("spec." + i.path, i.code, i.message, i.severity) for i in check_template_spec(spec)]
    name = name or document.get("name") or spec.get("name", "")
    if not name:
        issues.append(Issue("name", "required", "Give the template a name."))
    elif not isinstance(name, str) or len(name) > 100 or control_problem(name):
        issues.append(Issue("name", "invalid", "A template's name is one line of text of at most 100 characters, "
                                               "without control characters."))
    elif DeploymentTemplate.objects.filter(name=name).exists():
        issues.append(Issue("name", "duplicate", f"A template named {name!r} exists; choose another name."))
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        issues.append(Issue("description", "invalid", f"A description is text of at most {MAX_DESCRIPTION} characters."))
    if issues:
        raise TemplateInvalid(issues)
    return DeploymentTemplate.objects.create(name=name, description=description, schema_version=SCHEMA_VERSION,
                                             spec=_canonical(spec), created_by=user)


def _canonical(spec: dict) -> dict:
    """The valid spec as the model writes it ("443" becomes 443), without secrets or added defaults."""
    parsed, _ = parse(with_placeholder_secrets(spec))
    return split_secrets(parsed.model_dump(mode="json", exclude_unset=True))[0]


def save_as_template(spec: dict, *, name: str, description: str = "", user=None, deployment=None) -> DeploymentTemplate:
    document = export_document(spec, name)
    template = import_template(document, name=name, description=description, user=user)
    if deployment is not None:
        template.source_deployment = deployment
        template.save(update_fields=["source_deployment"])
    return template
