"""The OpenAPI schema: the committed copy is what the code generates and what /api/schema/ serves, to
users with a role only (as the API); it states the constraints the server enforces and links each
create to the operations on what it made; Swagger UI and Redoc load from the appliance only.
schemathesis runs against it in tests/test_fuzz_api.py."""

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from vio_manager.access.roles import ADMIN, OPERATOR, VIEWER, set_role

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


def _schema() -> dict:
    return yaml.safe_load(COMMITTED.read_text())


def _operation(schema: dict, reference: str) -> dict:
    """The operation a link's operationRef (#/paths/~1api~1v1~1templates~1{id}~1/get) points to."""
    path, method = reference.removeprefix("#/paths/").rsplit("/", 1)
    return schema["paths"][path.replace("~1", "/").replace("~0", "~")][method]


def test_every_create_links_to_the_operations_on_what_it_made():
    """The links clients (and schemathesis' stateful tests) follow: the created id into every
    operation under the new object's URL, e.g. create a template, then download and delete it."""
    schema = _schema()
    template = schema["paths"]["/api/v1/templates/"]["post"]["responses"]["201"]["links"]
    assert {"get", "put", "patch", "delete", "get_download"} <= set(template)
    assert template["get_download"] == {
        "operationRef": "#/paths/~1api~1v1~1templates~1{id}~1download~1/get", "parameters": {"id": "$response.body#/id"},
        "description": "GET /api/v1/templates/{id}/download/ on what was created"}
    deployment = schema["paths"]["/api/v1/deployments/"]["post"]["responses"]["202"]["links"]
    assert {"get", "delete", "get_runs", "get_events", "get_status", "get_vms", "post_cancel", "post_retry"} <= set(deployment)
    vcenter = schema["paths"]["/api/v1/vcenters/"]["post"]["responses"]["201"]["links"]
    assert vcenter["get_inventory_clusters"]["parameters"] == {"vcenter_pk": "$response.body#/id"}
    components = schema["components"]["schemas"]
    linked = 0
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                for name, link in response.get("links", {}).items():
                    linked += 1
                    target = _operation(schema, link["operationRef"])  # it exists
                    (parameter,) = link["parameters"]
                    assert parameter in {p["name"] for p in target["parameters"] if p["in"] == "path"}, (path, name)
                    body = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                    assert "id" in components[body]["properties"], (path, status, body)
    assert linked >= 50


def test_schema_states_the_limits_the_server_enforces():
    schema = _schema()
    paths, components = schema["paths"], schema["components"]["schemas"]
    for path, item in paths.items():
        for method, operation in item.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                assert "413" in operation["responses"], f"{method} {path}: an oversized body is a 413"
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["schema"]["type"] == "integer":
                    assert parameter["schema"]["minimum"] == 1 and parameter["schema"]["maximum"] in (2**31 - 1, 2**63 - 1)
                if parameter["name"] in ("limit", "offset"):
                    assert {"minimum", "maximum"} <= set(parameter["schema"]), (path, parameter)
    assert "2097152 bytes" in paths["/api/v1/templates/"]["post"]["responses"]["413"]["description"]

    def query(path, name):
        return next(p["schema"] for p in paths[path]["get"]["parameters"] if p["name"] == name)

    assert (query("/api/v1/templates/", "limit")["maximum"], query("/api/v1/templates/", "offset")["maximum"]) == (1000, 2**31 - 1)
    assert query("/api/v1/audit-events/", "user")["maxLength"] == 150
    assert query("/api/v1/audit-events/", "action")["maxLength"] == 64
    assert query("/api/v1/deployments/", "name")["maxLength"] == 32
    assert query("/api/v1/deployments/{id}/events/", "run")["maximum"] == 2**31 - 1
    assert query("/api/v1/vcenters/{vcenter_pk}/inventory/hosts/", "cluster")["maxLength"] == 512
    document = components["ImportTemplateRequest"]["properties"]["template"]["properties"]
    assert document["name"]["maxLength"] == 100 and document["schema_version"]["maximum"] >= 1
    assert components["AcceptCertificateRequest"]["properties"]["fingerprint"]["maxLength"] == 200
    # revisions: a list (no pagination), and the template a revision is saved as
    revisions = paths["/api/v1/deployments/{id}/revisions/"]["get"]
    assert revisions["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert "limit" not in {p["name"] for p in revisions["parameters"]}
    saved = paths["/api/v1/deployments/{id}/revisions/{revision}/save-as-template/"]["post"]["responses"]["201"]
    assert saved["content"]["application/json"]["schema"]["$ref"].endswith("/RevisionTemplate")


# --- who may read the schema and the docs ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "norole", VIEWER, OPERATOR, ADMIN])
def test_schema_and_docs_are_for_users_with_a_role(client, django_user_model, who):
    """As the role matrix (tests/test_access.py) has it for the API: anonymous 401 (the docs, pages:
    the login page), an account without a role 403, every role reads."""
    if who != "anonymous":
        user = django_user_model.objects.create_user(f"{who}-user", password="a-long-password-1")
        if who != "norole":
            set_role(user, who)
        client.force_login(user)
    schema, docs, redoc, script = (client.get(url) for url in ("/api/schema/", "/api/docs/", "/api/redoc/",
                                                                "/api/docs/?script="))
    if who == "anonymous":
        assert schema.status_code == 401 and schema.json()["code"] == "not_authenticated"
        for page in (docs, redoc, script):
            assert page.status_code == 302 and page["Location"].startswith("/login/")
    elif who == "norole":
        for refused in (schema, docs, redoc, script):
            assert refused.status_code == 403, refused.status_code
            assert refused["Content-Type"].startswith("application/json")
            body = refused.json()
            assert body["code"] == "permission_denied" and "no role" in body["message"]
            assert "openapi" not in refused.content.decode()
    else:
        assert schema.status_code == 200 and yaml.safe_load(schema.content)["info"]["title"] == "VIO Manager API"
        assert docs.status_code == redoc.status_code == script.status_code == 200


@pytest.mark.django_db
def test_a_token_without_a_role_cannot_read_the_schema(client, django_user_model):
    from vio_manager.access import tokens

    _, value = tokens.create_token(django_user_model.objects.create_user("nobody", password="a-long-password-1"), "x")
    refused = client.get("/api/schema/?format=json", headers={"Authorization": f"Bearer {value}"})
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


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
