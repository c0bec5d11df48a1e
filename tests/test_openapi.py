"""The OpenAPI schema: the committed copy is what the code generates and what /api/schema/ serves;
Swagger UI and Redoc load from the appliance only; and schemathesis, against the live server and
the simulators, finds no server error and no answer that strays from the schema on any operation."""

import ipaddress
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from tests.spec_fixtures import registered_nsx, registered_vcenter, valid_spec

COMMITTED = Path(__file__).resolve().parent.parent / "vio_manager" / "api" / "openapi.yaml"
REGENERATE = "vio_manager/api/openapi.yaml is not what the code generates: run `make openapi` and commit the result."


# --- the committed schema ---------------------------------------------------------------------


def test_committed_schema_is_current(tmp_path):
    """Also: the schema validates against the OpenAPI 3 meta-schema and generation warns about nothing."""
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    assert generated.read_text() == COMMITTED.read_text(), REGENERATE


@pytest.mark.django_db
def test_served_schema_is_the_committed_one_and_needs_credentials(client, admin_client):
    anonymous = client.get("/api/schema/")
    assert anonymous.status_code in (401, 403)
    assert anonymous.json()["code"] in ("not_authenticated", "authentication_failed")
    served = admin_client.get("/api/schema/")
    assert served.status_code == 200 and served["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(served.content) == yaml.safe_load(COMMITTED.read_text()), REGENERATE
    as_json = admin_client.get("/api/schema/?format=json")
    assert as_json.status_code == 200 and as_json.json()["info"]["title"] == "VIO Manager API"


@pytest.mark.django_db
def test_scripts_read_the_schema_with_an_api_token(client, admin_user):
    from vio_manager.access import tokens

    _, value = tokens.create_token(admin_user, "docs")
    served = client.get("/api/schema/?format=json", headers={"Authorization": f"Bearer {value}"})
    assert served.status_code == 200 and "/api/v1/deployments/" in served.json()["paths"]


def test_schema_documents_errors_enums_and_write_only_secrets():
    schema = yaml.safe_load(COMMITTED.read_text())
    components = schema["components"]["schemas"]
    assert set(components["ErrorResponse"]["required"]) == {"code", "message", "errors"}
    assert set(components["ErrorItem"]["required"]) == {"field", "code", "message"}
    assert components["DeploymentStatusEnum"]["enum"] == ["queued", "running", "succeeded", "failed", "cancelling",
                                                          "cancelled", "tearing_down"]
    # Passwords: in requests only; the spec's secrets are write-only.
    assert "password" in components["VCenterRequest"]["properties"]
    assert "password" not in components["VCenter"]["properties"]
    assert "password" not in components["NsxManager"]["properties"]
    assert components["Keystone"]["properties"]["admin_password"]["writeOnly"] is True
    assert components["Ldap"]["properties"]["bind_password"]["writeOnly"] is True
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            errors = [code for code in responses if code.startswith(("4", "5"))]
            assert {"401", "403"} <= set(errors), f"{method} {path}"
            for code in errors:
                ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[-1] in ("ErrorResponse", "CertificateConflict"), f"{method} {path} {code}"
            if "{" in path:
                assert "404" in responses, f"{method} {path}"
            if "requestBody" in operation:
                assert {"400", "415"} <= set(responses), f"{method} {path}"
    create = schema["paths"]["/api/v1/deployments/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]] and "422" in create["responses"]


# --- the documentation pages --------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_need_a_login_and_load_nothing_from_elsewhere(client, admin_client, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE), "a URL to another host in " + url
    assert page["Content-Security-Policy"].startswith("default-src 'self';")  # the browser fetches nothing else
    assets = [a for a in re.findall(r'(?:src|href)="([^"]+)"', html) if not a.startswith("data:")]
    assert assets and all(asset.startswith("/") and not asset.startswith("//") for asset in assets), assets
    for asset in assets:  # served by the appliance itself
        response = admin_client.get(asset.replace("&amp;", "&"))
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("url, shows", [("/api/docs/", "#operations-deployments-deployments_create"),
                                         ("/api/redoc/", "text=VIO Manager API")])
def test_docs_render_in_a_browser_without_leaving_the_appliance(page, live_server, admin_user, url, shows):
    client = Client()
    client.force_login(admin_user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                               "url": live_server.url}])
    here = (live_server.url, "data:", "blob:")
    fetched, refused, errors = [], [], []
    page.on("requestfinished", lambda request: None if request.url.startswith(here) else fetched.append(request.url))
    page.on("requestfailed", lambda request: refused.append((request.url, request.failure)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    missing = []
    page.on("response", lambda response: missing.append(response.url) if response.status >= 400 else None)
    page.goto(live_server.url + url)
    page.wait_for_selector(shows, timeout=30_000)
    page.wait_for_load_state("networkidle")
    assert fetched == []
    # Redoc's sidebar asks for its logo on a CDN: the page's policy stops the browser before it leaves.
    assert all(failure in ("csp", "net::ERR_BLOCKED_BY_CSP") for _, failure in refused), refused
    assert [e for e in errors if "cdn.redoc.ly" not in e] == [], missing


# --- schemathesis against the live server ---------------------------------------------------------


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
    localhost and 127.0.0.0/8 resolve or connect; anything else fails as an unknown name would."""
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def guarded_getaddrinfo(host, *args, **kwargs):
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


@pytest.fixture
def admin_headers(admin_user):
    """The headers of an admin's signed-in session (every operation allowed, so none is only refused)."""
    client = Client()
    client.force_login(admin_user)
    csrf = _get_new_csrf_string()
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}", "X-CSRFToken": csrf}


# The coverage phase (boundary values of every field, ~4 minutes here) runs when asked:
# VIO_SCHEMATHESIS_PHASES=examples,coverage,fuzzing. CI runs the bounded fuzzing pass.
PHASES = "examples,fuzzing"
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
          "response_schema_conformance"]


def operations(schema: dict) -> set[str]:
    return {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}


def test_every_operation_conforms_to_the_schema(live_server, api_objects, loopback_only, admin_headers, tmp_path):
    """schemathesis (its command line; valid and invalid input) against the served schema, on every
    operation, none excluded: creating a deployment or tearing one down only queues Celery messages
    (no worker runs here; the broker is the tests' own Redis database). VIO_SCHEMATHESIS_EXAMPLES
    sets the examples per operation, VIO_SCHEMATHESIS_SEED replays a run (the seed is printed)."""
    junit = tmp_path / "junit.xml"
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", live_server.url + "/api/schema/?format=json",
               "--checks", ",".join(CHECKS), "--mode", "all", "--phases", os.environ.get("VIO_SCHEMATHESIS_PHASES", PHASES),
               "--max-examples", os.environ.get("VIO_SCHEMATHESIS_EXAMPLES", "25"), "--workers", "1",
               "--generation-database", "none", "--generation-with-security-parameters", "false",
               "--request-timeout", "60", "--no-color", "--report", "junit", "--report-junit-path", str(junit)]
    for name, value in admin_headers.items():
        command += ["--header", f"{name}: {value}"]
    if os.environ.get("VIO_SCHEMATHESIS_SEED"):
        command += ["--seed", os.environ["VIO_SCHEMATHESIS_SEED"]]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    tested = {case.get("name") for case in ElementTree.parse(junit).getroot().iter("testcase")}
    assert tested == operations(yaml.safe_load(COMMITTED.read_text())), run.stdout[-5000:]
