"""The API's conventions at the HTTP level: one JSON error shape for every refusal (unknown URL or id,
wrong method or media type, malformed JSON, no credentials, conflicts), Idempotency-Key on creates
(replay, reuse with another body, concurrent twins), and secrets that are never returned."""

import copy
import json
import threading
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.test.client import RequestFactory

from deployments.models import Deployment, DeploymentTemplate
from inventory import models as m
from testkit.api import assert_error_shape
from testkit.api import post_json as post
from testkit.spec import registered_nsx, registered_vcenter, valid_spec
from vio_manager.api import errors
from vio_manager.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


class Lab:  # where a template's spec points (templates are checked without the inventory)
    host, port = "127.0.0.1", 443


def template_document(name="lab") -> dict:
    """A valid template: a spec without its secrets."""
    spec = valid_spec(Lab)
    del spec["keystone"]["admin_password"]
    return {"kind": "vio-manager/deployment-template", "name": name, "schema_version": 1, "spec": spec}


# --- one error shape ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_urls_under_api_answer_json(admin_client, method):
    for url in ("/api/v1/no-such-thing/", "/api/v2/", "/api/v1/vcenters/1/inventory/volumes/"):
        body = assert_error_shape(getattr(admin_client, method)(url), 404, "not_found")
        assert url in body["message"]


def test_pages_keep_their_html_404(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


def test_unknown_and_impossible_ids_are_404(admin_client):
    for url in ("/api/v1/deployments/999/", "/api/v1/templates/99999999999999999999/", "/api/v1/vcenters/abc/",
                "/api/v1/vcenters/99999999999999999999/inventory/", "/api/v1/nsx-managers/0/edges/"):
        assert_error_shape(admin_client.get(url), 404, "not_found")


def test_method_media_type_and_malformed_json(admin_client):
    assert_error_shape(admin_client.put("/api/v1/deployments/", "{}", content_type="application/json"), 405,
                       "method_not_allowed")
    assert_error_shape(admin_client.post("/api/v1/templates/", "name=x", content_type="application/x-www-form-urlencoded"),
                       415, "unsupported_media_type")
    assert_error_shape(admin_client.post("/api/v1/templates/", "{not json", content_type="application/json"), 400,
                       "parse_error")
    # PostgreSQL stores no NUL character: refused at the door instead of failing in the database.
    nul = post(admin_client, "/api/v1/templates/", {"name": "a\u0000b", "template": template_document()})
    assert "NUL" in assert_error_shape(nul, 400, "parse_error")["message"]
    assert_error_shape(post(admin_client, "/api/v1/deployments/validate/", {"spec": ["not", "an", "object"]}), 400, "invalid")


def test_bad_query_parameters_and_huge_pages(admin_client):
    body = assert_error_shape(admin_client.get("/api/v1/deployments/?status_group=sideways"), 400, "invalid")
    assert body["errors"][0]["field"] == "status_group"
    big = admin_client.get("/api/v1/templates/?limit=99999999999999999999&offset=99999999999999999999")
    assert big.status_code == 200 and big.json()["results"] == []


def test_no_credentials_and_forged_ones(client):
    for headers in ({}, {"Authorization": "Bearer forged"}):
        response = client.get("/api/v1/deployments/", headers=headers)
        assert response.status_code in (401, 403)
        body = assert_error_shape(response, response.status_code)
        assert body["code"] in ("not_authenticated", "authentication_failed", "invalid_token")
    client.cookies["sessionid"] = "forged"
    refused = client.post("/api/v1/templates/", "{}", content_type="application/json")
    assert assert_error_shape(refused, refused.status_code)["code"] == "not_authenticated"


def test_a_conflict_names_what_is_in_the_way(admin_client, vcsim, synced_vcenter):
    Deployment.objects.create(name="cloud1", vcenter=synced_vcenter, spec={}, secrets="{}")
    body = assert_error_shape(admin_client.delete(f"/api/v1/vcenters/{synced_vcenter.pk}/"), 409, "in_use")
    assert "deployment" in body["message"]


def test_server_errors_under_api_are_json_and_say_nothing_of_the_cause():
    response = errors.server_error(RequestFactory().get("/api/v1/deployments/"))
    assert response.status_code == 500 and json.loads(response.content)["code"] == "server_error"
    assert errors.server_error(RequestFactory().get("/")).status_code == 500


# --- Idempotency-Key -----------------------------------------------------------------------------------


def test_a_repeated_create_returns_the_first_answer(admin_client):
    first = post(admin_client, "/api/v1/templates/", {"template": template_document()}, idempotency_key="k-1")
    assert first.status_code == 201, first.json()
    again = post(admin_client, "/api/v1/templates/", {"template": template_document()}, idempotency_key="k-1")
    assert again.status_code == 201 and again["Location"] == first["Location"] and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert DeploymentTemplate.objects.count() == 1
    # Without the key, the same body is a new request: the name is taken now.
    assert_error_shape(post(admin_client, "/api/v1/templates/", {"template": template_document()}), 400, "invalid")


def test_the_same_key_with_another_body_is_refused(admin_client):
    assert post(admin_client, "/api/v1/templates/", {"template": template_document("a")}, idempotency_key="k").status_code == 201
    reused = post(admin_client, "/api/v1/templates/", {"template": template_document("b")}, idempotency_key="k")
    assert "another request body" in assert_error_shape(reused, 422, "idempotency_key_reused")["message"]
    assert list(DeploymentTemplate.objects.values_list("name", flat=True)) == ["a"]


def test_a_refused_request_may_be_corrected_and_sent_again_with_its_key(admin_client):
    broken = template_document()
    broken["spec"]["vcenter"]["port"] = 0
    assert_error_shape(post(admin_client, "/api/v1/templates/", {"template": broken}, idempotency_key="fix-me"), 400)
    fixed = post(admin_client, "/api/v1/templates/", {"template": template_document()}, idempotency_key="fix-me")
    assert fixed.status_code == 201


def test_keys_are_per_user_checked_and_forgotten_after_a_day(admin_client, django_user_model):
    bad = post(admin_client, "/api/v1/templates/", {"template": template_document()}, idempotency_key="é" * 3)
    assert assert_error_shape(bad, 400)["errors"][0]["field"] == "Idempotency-Key"
    assert post(admin_client, "/api/v1/templates/", {"template": template_document("a")}, idempotency_key="day").status_code == 201
    other = Client()
    other.force_login(django_user_model.objects.create_superuser("other", password="x-long-password-1"))
    assert post(other, "/api/v1/templates/", {"template": template_document("b")}, idempotency_key="day").status_code == 201
    IdempotencyRecord.objects.update(created_at=IdempotencyRecord.objects.get(user__username="admin").created_at
                                     - timedelta(hours=25))
    later = post(admin_client, "/api/v1/templates/", {"template": template_document("c")}, idempotency_key="day")
    assert later.status_code == 201 and later.json()["name"] == "c"


def test_a_repeated_deployment_create_makes_one_deployment(admin_client, vcsim, synced_vcenter):
    spec = valid_spec(vcsim)
    keys = [i["key"] for i in post(admin_client, "/api/v1/deployments/validate/", {"spec": spec}).json()["issues"]]
    body = {"spec": spec, "acknowledge": keys}
    first = post(admin_client, "/api/v1/deployments/", body, idempotency_key="deploy-1")
    assert first.status_code == 202, first.json()
    again = post(admin_client, "/api/v1/deployments/", body, idempotency_key="deploy-1")
    assert again.status_code == 202 and again["Location"] == first["Location"] and again.json()["id"] == first.json()["id"]
    assert Deployment.objects.count() == 1
    # The stored answer holds the response body only: never the spec's secrets.
    assert "Secret-Admin-1" not in json.dumps(list(IdempotencyRecord.objects.values("response_body")))


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_creates_make_one_deployment(live_server, vcsim, admin_user):
    registered_vcenter(vcsim)
    client = Client()
    client.force_login(admin_user)
    spec = valid_spec(vcsim)
    keys = [i["key"] for i in post(client, "/api/v1/deployments/validate/", {"spec": spec}).json()["issues"]]
    cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": "a" * 32}
    headers = {"X-CSRFToken": "a" * 32, "Idempotency-Key": "race", "Content-Type": "application/json"}
    payload = json.dumps({"spec": spec, "acknowledge": keys})
    answers = []
    barrier = threading.Barrier(2)

    def create():
        barrier.wait()
        answers.append(requests.post(live_server.url + "/api/v1/deployments/", data=payload, headers=headers,
                                     cookies=cookies, timeout=60))

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"] and Deployment.objects.count() == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]


# --- secrets are write-only ----------------------------------------------------------------------------


def test_connection_passwords_are_never_returned_and_kept_on_update(admin_client, vcsim, nsxv, synced_vcenter):
    nsx = registered_nsx(nsxv, synced_vcenter)
    for url, model, password in ((f"/api/v1/vcenters/{synced_vcenter.pk}/", m.VCenter, vcsim.password),
                                 (f"/api/v1/nsx-managers/{nsx.pk}/", m.NsxManager, nsxv.password)):
        current = admin_client.get(url).json()
        full = {key: current[key] for key in ("name", "host", "port", "username")}
        if model is m.NsxManager:
            full["vcenter"] = current["vcenter"]
        for method, body in (("put", full), ("patch", {"name": current["name"] + "-2"})):
            response = getattr(admin_client, method)(url, json.dumps(body), content_type="application/json")
            assert response.status_code == 200, response.json()
            assert "password" not in response.json() and password not in response.content.decode()
            assert model.objects.get(pk=current["id"]).password.reveal() == password
        listed = admin_client.get(url.rsplit("/", 2)[0] + "/")
        assert password not in listed.content.decode() and "password" not in listed.json()["results"][0]


def test_spec_secrets_are_never_returned(admin_client, vcsim, synced_vcenter):
    spec = copy.deepcopy(valid_spec(vcsim))
    keys = [i["key"] for i in post(admin_client, "/api/v1/deployments/validate/", {"spec": spec}).json()["issues"]]
    created = post(admin_client, "/api/v1/deployments/", {"spec": spec, "acknowledge": keys})
    deployment = created.json()
    saved = post(admin_client, f"/api/v1/deployments/{deployment['id']}/save-as-template/", {"name": "lab"}).json()
    for response in (created, admin_client.get("/api/v1/deployments/"), admin_client.get(deployment["url"]),
                     admin_client.get(saved["url"]), admin_client.get(saved["download"])):
        assert response.status_code in (200, 202)
        assert "Secret-Admin-1" not in response.content.decode() and "admin_password" not in response.content.decode()


def test_an_imported_template_is_stored_in_canonical_form(admin_client):
    document = template_document()
    document["spec"]["vcenter"]["port"] = "443"
    created = post(admin_client, "/api/v1/templates/", {"template": document})
    assert created.status_code == 201 and created.json()["spec"]["vcenter"]["port"] == 443
    garbage = {"schema_version": 0, "spec": {"management_network": "0", "compute_cluster": "A"}}
    assert_error_shape(post(admin_client, "/api/v1/templates/", {"template": garbage}), 400, "invalid")
    long_name = dict(template_document(), name="x" * 101)
    refused = assert_error_shape(post(admin_client, "/api/v1/templates/", {"template": long_name}), 400)
    assert refused["errors"][0]["field"] == "template.name"


# --- bad input is a 4xx, never a 500 (each case one a review or a fuzz run found) --------------------------


def _list_filters(vcenter_pk: int, deployment_pk: int) -> list[tuple[str, str]]:
    """(URL, query parameter) of every list filter the API reads."""
    inventory = f"/api/v1/vcenters/{vcenter_pk}/inventory/"
    return ([("/api/v1/audit-events/", name) for name in ("user", "action", "since", "until")]
            + [("/api/v1/deployments/", name) for name in ("name", "created_by", "status", "status_group", "vcenter")]
            + [(f"/api/v1/deployments/{deployment_pk}/{what}/", name) for what in ("events", "status")
               for name in ("run", "since", "limit")]
            + [(f"/api/v1/deployments/{deployment_pk}/vms/", "run")]
            + [(inventory + kind + "/", name) for kind in ("hosts", "networks", "datastores")
               for name in ("datacenter", "cluster", "kind", "name")])


def test_nul_in_any_list_filter_is_a_400_naming_it(admin_client, vcsim, synced_vcenter):
    from testkit.factories import deployment_with_run

    deployment = deployment_with_run(synced_vcenter, "cloud1")
    for url, name in _list_filters(synced_vcenter.pk, deployment.pk):
        for raw in ("%00", "a%00b"):
            body = assert_error_shape(admin_client.get(f"{url}?{name}={raw}"), 400, "invalid")
            assert body["errors"][0]["field"] == name, (url, name, body)
    # ?user=%00 on the audit log was a 500 (PostgreSQL stores no NUL); the message says why
    refused = admin_client.get("/api/v1/audit-events/?user=%00").json()
    assert "Null characters are not allowed" in refused["message"]
    # a parameter nothing reads is ignored, whatever it holds
    assert admin_client.get("/api/v1/audit-events/?unknown=%00").status_code == 200


def test_audit_filters_take_dates_to_the_end_of_time(admin_client):
    from vio_manager.access import audit

    audit.record(audit.Actor.cli(), "test.today")
    today = audit.events().first().created_at.date().isoformat()
    for query, found in ((f"until={today}", 1), (f"since={today}&until={today}", 1), ("until=9999-12-31", 1),
                         ("since=9999-12-31", 0), (f"since={today}T00:00:00Z", 1), ("until=0001-01-01", 0)):
        response = admin_client.get(f"/api/v1/audit-events/?{query}&action=test")
        assert response.status_code == 200 and response.json()["count"] == found, (query, response.content[:300])
    for name, value in (("until", "2025-02-30"), ("since", "yesterday"), ("since", "0001-01-01T00:00:00%2B14:00"),
                        ("until", "9999-12-31T23:59:59-14:00"), ("user", "x" * 151)):
        body = assert_error_shape(admin_client.get(f"/api/v1/audit-events/?{name}={value}"), 400, "invalid")
        assert body["errors"][0]["field"] == name
    # the page has the same filters, as a form: its errors on the page, never a 500
    page = admin_client.get("/audit/?user=%00&until=9999-12-31")
    assert page.status_code == 200 and "Null characters are not allowed" in page.content.decode()
    assert admin_client.get("/audit/?until=9999-12-31").status_code == 200


HOSTILE_NAMES = [  # (template name, the Content-Disposition of its API download)
    ("lab", 'attachment; filename="lab.vio-template.json"'),
    ('a "quoted" name', 'attachment; filename="a \\"quoted\\" name.vio-template.json"'),
    ("back\\slash", 'attachment; filename="back slash.vio-template.json"'),
    ("lab\r\nX-Injected: 1", 'attachment; filename="labX-Injected: 1.vio-template.json"'),
    ('lab"; filename="evil.exe', 'attachment; filename="lab\\"; filename=\\"evil.exe.vio-template.json"'),
    ("☃ snow", "attachment; filename*=utf-8''%E2%98%83%20snow.vio-template.json"),
    ("Ünïcödé", "attachment; filename*=utf-8''%C3%9Cn%C3%AFc%C3%B6d%C3%A9.vio-template.json"),
    ("cod\u202eexe.json", 'attachment; filename="codexe.json.vio-template.json"'),
    ("../../etc/passwd", 'attachment; filename="etc passwd.vio-template.json"'),
    ("\r\n", 'attachment; filename="template.vio-template.json"'),
]


@pytest.mark.parametrize("name, header", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_template_download_is_named_safely_whatever_the_name(admin_client, name, header):
    """The name went raw into Content-Disposition: a 500 for CR/LF or a non-Latin-1 character, and a
    quote let it add parameters. Now RFC 6266 through Django's helper (filename*= for non-ASCII)."""
    template = DeploymentTemplate.objects.create(name=name, schema_version=1, spec=template_document()["spec"])
    api = admin_client.get(f"/api/v1/templates/{template.pk}/download/")
    assert api.status_code == 200 and api["Content-Disposition"] == header
    assert api.json()["name"] == name  # the document keeps the name as it is
    page = admin_client.get(f"/templates/{template.pk}/download/")
    assert page.status_code == 200
    assert page["Content-Disposition"] == header.replace(".vio-template.json", ".json")
    assert "\r" not in page["Content-Disposition"] and "\n" not in page["Content-Disposition"]


def test_names_no_header_can_carry_are_left_out_of_file_names():
    from django.utils.http import content_disposition_header

    from vio_manager.api.downloads import safe_filename

    # a lone surrogate (PostgreSQL stores none; SQLite or an import path might): quote() fails on it
    assert safe_filename("a\ud800b\x00c", ".json") == "abc.json"
    assert content_disposition_header(True, safe_filename("\udfff", ".json", "template")) == 'attachment; filename="template.json"'
    assert safe_filename("x" * 500, ".json") == "x" * 150 + ".json"
    assert safe_filename(" .hidden. ", "") == "hidden"


@pytest.mark.parametrize("host", ["a.b.c..", "x" * 64, "x" * 64 + ".example.com", "a..b", ".", "é" * 64])
def test_a_host_name_the_resolver_cannot_encode_is_a_400_on_host(admin_client, host):
    """socket.getaddrinfo refuses these with a UnicodeError (Python's IDNA codec) that may have no
    .reason: an AttributeError and a 500 before. Nothing is looked up or connected."""
    response = post(admin_client, "/api/v1/vcenters/", {"name": "vc", "host": host, "port": 443,
                                                        "username": "administrator@vsphere.local", "password": "x"})
    body = assert_error_shape(response, 400, "invalid")
    assert body["errors"][0]["field"] == "host" and body["errors"][0]["code"] == "dns_failure", body
    assert "is not a valid host name" in body["message"], body


def test_fetch_certificate_names_what_is_wrong_with_a_host_name():
    from inventory.clients.errors import DnsFailure
    from inventory.clients.tls import fetch_certificate

    for host, reason in (("a.b.c..", "empty label"), ("x" * 64, "64 characters long; at most 63"),
                         ("a." * 130, "259 characters long"), ("vc\x00.example.com", "NUL")):
        with pytest.raises(DnsFailure, match="not a valid host name") as refused:
            fetch_certificate(host, 443, timeout=1)
        assert reason in str(refused.value), str(refused.value)
