"""schemathesis hooks for the stateful API test (tests/test_fuzz_api.py loads them with SCHEMATHESIS_HOOKS):
a create whose generated body could never pass the spec's checks (a random DeploymentSpec is never
consistent with the simulator's inventory) is, in three cases of four, a valid body (VIO_FUZZ_BODIES, a
JSON file the test writes) carrying the generated name and description, so the create succeeds and
the links from it (download, delete, runs, events, status ...) are followed with a real id. One in four
stays as generated. Hypothesis makes the choice, so a seed replays it."""

import json
import os
from functools import cache

import schemathesis
from hypothesis import strategies as st


@cache
def _valid_bodies() -> dict:
    with open(os.environ["VIO_FUZZ_BODIES"]) as file:
        return json.load(file)


def _valid(operation: str, body):
    """The valid body of `operation`, with the generated name and description where they are strings."""
    valid = json.loads(json.dumps(_valid_bodies()[operation]))
    if operation == "POST /api/v1/deployments/":
        return st.from_regex(r"\Acloud-[a-z0-9]{1,12}\Z").map(lambda name: _named_spec(valid, name))
    for field in ("name", "description"):
        if isinstance(body.get(field), str):
            valid[field] = body[field]
    return st.just(valid)


def _named_spec(valid: dict, name: str) -> dict:
    valid["spec"]["name"] = name
    return valid


@schemathesis.hook
def flatmap_body(context, body):
    operation = context.operation
    label = f"{operation.method.upper()} {operation.path}" if operation is not None else ""
    if label not in _valid_bodies() or not isinstance(body, dict):
        return st.just(body)
    # Three in four valid: each scenario starts with a create, and its links need what it made.
    return st.integers(0, 3).flatmap(lambda draw: _valid(label, body) if draw else st.just(body))
