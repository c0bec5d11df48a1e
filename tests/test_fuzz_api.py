"""Fuzzing the API with schemathesis (its command line) against the live server and the simulators:

1. every operation, none excluded, with generated valid and invalid input: no server error and no
   answer that strays from the schema (status, media type, headers, body);
2. stateful: the OpenAPI links from each create to the operations on what it made, followed with the
   created id (create a template, then download, change and delete it; create a deployment, then read
   its runs, events, status and VMs, cancel it ...);
3. what fuzzing found, as explicit regression tests (each case a fuzz run reported, sent again).

Reproducible in CI: a fixed seed and a bounded number of examples, so a landing never fails at random.
`make fuzz` runs it randomized with many more examples: VIO_FUZZ_RANDOM=1 (a new seed each run,
printed), VIO_FUZZ_EXAMPLES=<examples per operation>; VIO_FUZZ_SEED=<seed> replays a run;
VIO_FUZZ_PHASES=examples,coverage,fuzzing adds the coverage phase (boundary values of every field,
~4 minutes here)."""

import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
import yaml
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from testkit.api import assert_error_shape
from testkit.spec import registered_nsx, registered_vcenter, valid_spec

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "vio_manager" / "api" / "openapi.yaml"

RANDOM = os.environ.get("VIO_FUZZ_RANDOM") == "1"
SEED = os.environ.get("VIO_FUZZ_SEED") or (None if RANDOM else "20260412")


def examples(ci: int) -> str:
    return os.environ.get("VIO_FUZZ_EXAMPLES") or str(ci)


# --- generated hosts reach loopback only ------------------------------------------------------------


def _loopback(host) -> bool:
    host = host.decode() if isinstance(host, bytes) else host
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch):
    """Generated hosts (vCenter, NSX, the spec's names) must never reach DNS or another machine: only
    localhost and 127.0.0.0/8 resolve or connect; anything else fails as an unknown name would. A name
    the resolver would refuse before any lookup (a.b.c.., a label over 63 characters) is refused the
    same way here (UnicodeError from the IDNA codec): the fuzzing meets what production meets."""
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host and not _loopback(host):
            host.encode("idna")  # what socket.getaddrinfo does first
        if not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (tests reach loopback only)")
        return resolve(host, *args, **kwargs)

    def guarded_connect(sock, address):
        if isinstance(address, tuple) and not _loopback(address[0]):
            raise ConnectionRefusedError(f"tests reach loopback only, not {address[0]}")
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture
def admin_headers(admin_user):
    """The headers of an admin's signed-in session (every operation allowed, so none is only refused)."""
    client = Client()
    client.force_login(admin_user)
    csrf = _get_new_csrf_string()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}", "X-CSRFToken": csrf}


CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
          "response_schema_conformance"]


def schemathesis(live_server, headers, tmp_path, *options, env=None, config: str = "") -> SimpleNamespace:
    """Run schemathesis' command line against the served schema (`config`: its schemathesis.toml); the
    run's junit and ndjson reports."""
    junit, events, config_file = tmp_path / "junit.xml", tmp_path / "events.ndjson", tmp_path / "schemathesis.toml"
    config_file.write_text(config)
    command = [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config_file), "run",
               live_server.url + "/api/schema/?format=json",
               "--checks", ",".join(CHECKS), "--workers", "1", "--generation-database", "none",
               "--generation-with-security-parameters", "false", "--request-timeout", "60", "--no-color",
               "--report", "junit,ndjson", "--report-junit-path", str(junit), "--report-ndjson-path", str(events),
               *options]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    if SEED:
        command += ["--seed", SEED]
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1800, env=environment)
    print(run.stdout[-3000:])  # the seed, for a randomized run to be replayed
    return SimpleNamespace(returncode=run.returncode, output=run.stdout[-20000:] + run.stderr[-5000:], junit=junit,
                           events=events)


def operations(schema: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}


# --- 1. every operation --------------------------------------------------------------------------


@pytest.fixture
def api_objects(transactional_db, vcsim, nsxv, admin_user):
    """One of each thing, so the operations on one object find something: a synced vCenter and NSX
    Manager, a deployment (its run only queued: no worker takes it here) and a template."""
    from deployments.services import launch, templates

    vcenter = registered_vcenter(vcsim)
    registered_nsx(nsxv, vcenter)
    spec = valid_spec(vcsim)
    _, _, advisory = launch.check(spec)
    deployment = launch.create_deployment(spec, user=admin_user, acknowledged={launch.warning_key(i) for i in advisory})
    templates.save_as_template(deployment.spec, name="lab", user=admin_user, deployment=deployment)


def test_every_operation_conforms_to_the_schema(live_server, api_objects, loopback_only, admin_headers, tmp_path):
    """Valid and invalid input on every operation, none excluded: creating a deployment or tearing
    one down only queues Celery messages (no worker runs here; the broker is the tests' own Redis
    database)."""
    run = schemathesis(live_server, admin_headers, tmp_path, "--mode", "all",
                       "--phases", os.environ.get("VIO_FUZZ_PHASES", "examples,fuzzing"),
                       "--max-examples", examples(4))
    assert run.returncode == 0, run.output
    tested = {case.get("name") for case in ElementTree.parse(run.junit).getroot().iter("testcase")}
    assert tested == operations(yaml.safe_load(COMMITTED.read_text())), run.output[-5000:]


# --- 2. stateful: the links from a create to what it made --------------------------------------------


def _template_document(spec: dict, name: str = "lab") -> dict:
    spec = json.loads(json.dumps(spec))
    del spec["keystone"]["admin_password"]
    return {"kind": "vio-manager/deployment-template", "name": name, "schema_version": 1, "spec": spec}


def _followed(events: Path) -> dict[str, set[int]]:
    """'SOURCE -> TARGET' of every link the run followed with the value it carries (the created id, not
    one schemathesis made up instead), with the statuses the target answered."""
    followed: dict[str, set[int]] = {}
    for line in events.read_text().splitlines():
        recorder = (json.loads(line).get("ScenarioFinished") or {}).get("recorder") or {}
        interactions = recorder.get("interactions", {})
        for case_id, node in recorder.get("cases", {}).items():
            transition = node.get("transition")
            if not transition or not node.get("is_transition_applied") or case_id not in interactions:
                continue
            source = transition["id"].split(" -> ")[0]
            target = f"{node['value']['method']} {node['value']['path']}"
            status = (interactions[case_id].get("response") or {}).get("status_code")
            followed.setdefault(f"{source} -> {target}", set()).add(status)
    return followed


# The creates and what must follow them.
STATEFUL_OPERATIONS = (r"^(templates_(create|retrieve|download_retrieve|destroy)"
                       r"|deployments_(create|retrieve|runs_list|events_retrieve|status_retrieve))$")
LINKS_TO_FOLLOW = {  # create -> the operations its links must have reached with the created id
    "POST /api/v1/templates/": ["GET /api/v1/templates/{id}/download/", "DELETE /api/v1/templates/{id}/",
                                "GET /api/v1/templates/{id}/"],
    "POST /api/v1/deployments/": ["GET /api/v1/deployments/{id}/runs/", "GET /api/v1/deployments/{id}/events/",
                                  "GET /api/v1/deployments/{id}/status/", "GET /api/v1/deployments/{id}/"],
}


def test_stateful_links_from_each_create_reach_what_it_made(live_server, transactional_db, vcsim, nsxv, admin_user,
                                                            loopback_only, admin_headers, tmp_path):
    """schemathesis' stateful phase follows the schema's links (vio_manager/api/schema.py adds them: a
    create's response id feeds every operation under the created object's URL). The creates get
    bodies that pass the checks three times in four (tests/fuzz_hooks.py), so the chains go on. It
    fails on any server error or answer outside the schema along the chains, and unless each link
    below was followed with the created id, some of them to what was made (200; 304 for an ETag
    schemathesis sent back; a 404 is right after the delete)."""
    from deployments.services import launch

    vcenter = registered_vcenter(vcsim)
    registered_nsx(nsxv, vcenter)
    spec = valid_spec(vcsim)
    spec["topology"] = "compact"  # fewer addresses per deployment: several creates can succeed
    _, blocking, advisory = launch.check(spec)
    assert not blocking, blocking
    bodies = tmp_path / "bodies.json"
    bodies.write_text(json.dumps({
        "POST /api/v1/templates/": {"template": _template_document(spec)},
        "POST /api/v1/deployments/": {"spec": spec, "acknowledge": sorted(launch.warning_key(i) for i in advisory)},
    }))
    # CI: these operations and the schema's links only (none guessed from the lists' bodies), so 12
    # scenarios follow each link; make fuzz: every operation, and the links schemathesis infers too.
    narrow = () if RANDOM else ("--include-operation-id-regex", STATEFUL_OPERATIONS)
    run = schemathesis(live_server, admin_headers, tmp_path, "--phases", "stateful", "--mode", "all",
                       "--max-examples", examples(12), *narrow,
                       env={"SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "VIO_FUZZ_BODIES": str(bodies)},
                       config="[phases.stateful]\nmax-steps = 25\n"
                              + ("" if RANDOM else "[phases.stateful.inference]\nalgorithms = []\n"))
    assert run.returncode == 0, run.output
    followed = _followed(run.events)
    for create, targets in LINKS_TO_FOLLOW.items():
        for target in targets:
            assert f"{create} -> {target}" in followed, f"{create} -> {target} was never followed; followed: {sorted(followed)}"
        answers = set().union(*(followed[f"{create} -> {target}"] for target in targets))
        assert answers & {200, 204, 304}, f"no link from {create} reached what it made: {sorted(map(str, answers))}"
