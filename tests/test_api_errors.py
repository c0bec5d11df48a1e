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
