"""Roles, API tokens, the audit log and the login lockout, as users and scripts meet them.

The role matrix walks every endpoint the URL conf serves under /api/v1/ (a new endpoint is covered
the day it is added): anonymous -> 401, below the needed role -> 403, at or above it -> allowed
(200 for reads), and every successful change through the API leaves an audit event.
"""

import hashlib
import json
import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from deployments.models import Deployment, DeploymentTemplate
from deployments.services.secrets import split_secrets
from inventory import models as m
from testkit.api import assert_error_shape
from testkit.net import free_port
from testkit.spec import valid_spec
from vio_manager.access import audit, tokens
from vio_manager.access.models import ApiToken, AuditEvent
from vio_manager.access.roles import ADMIN, OPERATOR, RANK, VIEWER, role_of, set_role

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-for-tests"
WHO = ("anonymous", "norole", VIEWER, OPERATOR, ADMIN)


# --- the endpoints, from the URL conf ----------------------------------------------------------


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


def api_routes() -> list[tuple[str, str, type, tuple[str, ...]]]:
    """(url name, http method, view class, path parameters) of every endpoint under /api/v1/."""
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None)
        if not route.startswith("api/v1/") or cls is None:
            continue
        assert pattern.name, f"api route {route} has no name: give it one (the role matrix reverses it)"
        actions = getattr(pattern.callback, "actions", None)
        methods = list(actions) if actions else [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]
        params = tuple(pattern.pattern.regex.groupindex)
        routes += [(pattern.name, method, cls, params) for method in methods]
    return sorted(routes, key=lambda r: (r[0], r[1]))


ROUTES = api_routes()


def required_role(name: str, method: str) -> str:
    """The policy, written out: viewers read, operators change, admins manage credentials and
    read the audit log; everyone manages their own API tokens."""
    if name.startswith("api-audit-event"):
        return ADMIN
    if name.startswith("api-token"):
        return VIEWER
    if method == "get":
        return VIEWER
    if name.startswith(("api-vcenter", "api-nsx-manager")):  # connections: credentials and trust
        return OPERATOR if name.endswith(("-sync", "-test-connection")) else ADMIN
    return OPERATOR


def test_the_matrix_covers_the_api():
    names = {name for name, *_ in ROUTES}
    for expected in ("api-vcenter-list", "api-deployment-retry", "api-deployment-cancel", "api-token-detail",
                     "api-audit-event-list", "api-template-detail", "api-root"):
        assert expected in names
    assert len(ROUTES) >= 40


# --- people and things -------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Hundreds of tests each make four users: a deliberately slow hash would take minutes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people():
    User = get_user_model()
    users = {"norole": User.objects.create_user("norole-user", password=PASSWORD)}
    for role in (VIEWER, OPERATOR, ADMIN):
        users[role] = User.objects.create_user(f"{role}-user", password=PASSWORD)
        set_role(users[role], role)
    keys, targets = {}, {}
    for who, user in users.items():
        keys[who] = tokens.create_token(user, "matrix")[1]
        targets[who] = tokens.create_token(user, "to revoke")[0]
    return SimpleNamespace(users=users, keys=keys, targets=targets)


@pytest.fixture
def world(people):
    """One of each thing the API serves, none of it reachable: an action that would connect fails
    at once on a closed loopback port."""
    port = free_port()
    vcenter = m.VCenter.objects.create(name="vc", host="127.0.0.1", port=port, username="administrator@vsphere.local",
                                       password="vc-secret", certificate_sha256="AB:" * 31 + "AB", status="connected")
    nsx = m.NsxManager.objects.create(name="nsx", host="127.0.0.1", port=free_port(), username="admin",
                                      password="nsx-secret", certificate_sha256="CD:" * 31 + "CD", vcenter=vcenter)
    public, _ = split_secrets(valid_spec(SimpleNamespace(host="127.0.0.1", port=port)))
    deployment = Deployment.objects.create(name="cloud1", vcenter=vcenter, spec=public, secrets="{}",
                                           created_by=people.users[OPERATOR])
    template = DeploymentTemplate.objects.create(name="lab", schema_version=public["schema_version"], spec=public)
    event = audit.record(audit.Actor.cli(), "test.setup")
    objects = {m.VCenter: vcenter, m.NsxManager: nsx, Deployment: deployment, DeploymentTemplate: template,
               AuditEvent: event}
    return SimpleNamespace(objects=objects, vcenter=vcenter, nsx=nsx, deployment=deployment, template=template)


def _model_of(cls):
    queryset = getattr(cls, "queryset", None)
    if queryset is not None:
        return queryset.model
    if getattr(cls, "model", None) is not None:
        return cls.model
    serializer = getattr(cls, "serializer_class", None)
    return getattr(getattr(serializer, "Meta", None), "model", None)


def url_for(name, cls, params, world, people, who) -> tuple[str, bool]:
    """The URL with real objects in it, and whether every parameter named one."""
    kwargs, resolved = {}, True
    for param in params:
        target = None
        if param == "pk":
            model = _model_of(cls)
            if model is ApiToken:
                target = people.targets[who if who in people.targets else VIEWER]
            elif model is not None:
                target = world.objects.get(model) or model.objects.first()
        elif param == "vcenter_pk":
            target = world.vcenter
        elif param == "manager_pk":
            target = world.nsx
        if target is None:
            resolved = False
        kwargs[param] = target.pk if target is not None else "1"
    return reverse(name, kwargs=kwargs), resolved


# --- the matrix -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("name,method,cls,params", ROUTES, ids=[f"{n}:{m}" for n, m, *_ in ROUTES])
def test_role_matrix(client, people, world, name, method, cls, params, who):
    url, resolved = url_for(name, cls, params, world, people, who)
    headers = {} if who == "anonymous" else {"HTTP_AUTHORIZATION": f"Token {people.keys[who]}"}
    body = {} if method == "get" else {"data": "{}", "content_type": "application/json"}
    before = AuditEvent.objects.count()
    response = client.generic(method.upper(), url, **body, **headers)
    needed = required_role(name, method)

    if who == "anonymous":
        assert response.status_code == 401, (url, response.content[:300])
        assert_error_shape(response, code="not_authenticated")
        assert response["WWW-Authenticate"].startswith("Token")
    elif RANK.get(who, 0) < RANK[needed]:
        assert response.status_code == 403, (url, response.content[:300])
        assert f"needs the {needed} role" in assert_error_shape(response, code="permission_denied")["message"]
        assert AuditEvent.objects.count() == before
    else:
        assert response.status_code not in (401, 403) and response.status_code < 500, (url, response.content[:500])
        if method == "get" and resolved:
            assert response.status_code == 200, (url, response.content[:300])
        if method != "get" and 200 <= response.status_code < 300:
            made = AuditEvent.objects.filter(user=people.users[who], via="api").exclude(action__startswith="login")
            assert made.count() == 1, f"{method.upper()} {url} changed something without an audit event"
            assert made.get().ip_address == "127.0.0.1"


def test_session_users_meet_the_same_roles(client, people, world):
    client.force_login(people.users[VIEWER])
    assert client.get("/api/v1/deployments/").status_code == 200
    refused = client.post(f"/api/v1/deployments/{world.deployment.pk}/retry/")
    assert refused.status_code == 403
    assert assert_error_shape(refused, code="permission_denied")["message"] == (
        "This needs the operator role; your account has the viewer role.")
    client.force_login(people.users[OPERATOR])
    assert client.post(f"/api/v1/vcenters/{world.vcenter.pk}/sync/").status_code == 202
    assert client.delete(f"/api/v1/vcenters/{world.vcenter.pk}/").status_code == 403
    assert client.post(f"/api/v1/deployments/{world.deployment.pk}/cancel/").status_code == 409  # allowed; no run


def test_a_superuser_is_an_admin_without_a_group(client):
    boss = get_user_model().objects.create_superuser("boss", password=PASSWORD)
    assert role_of(boss) == ADMIN
    client.force_login(boss)
    assert client.get("/api/v1/audit-events/").status_code == 200


# --- API tokens -------------------------------------------------------------------------------


def test_token_made_over_the_api_works_once_shown_and_stored_hashed(client, people, world):
    client.force_login(people.users[OPERATOR])
    made = client.post("/api/v1/tokens/", {"name": "ci"}, content_type="application/json")
    assert made.status_code == 201
    value = made.json()["token"]
    assert made.json()["prefix"] == value[:8] and made.json()["state"] == "active"
    # Shown once: neither the list nor the detail has it again; the database has only its hash.
    assert value not in client.get("/api/v1/tokens/").content.decode()
    assert value not in client.get(made["Location"]).content.decode()
    stored = ApiToken.objects.get(pk=made.json()["id"])
    assert stored.key_hash == hashlib.sha256(value.encode()).hexdigest()
    assert value not in json.dumps(list(ApiToken.objects.values()), default=str)

    client.logout()
    for scheme in ("Token", "Bearer", "token"):
        answer = client.get("/api/v1/deployments/", HTTP_AUTHORIZATION=f"{scheme} {value}")
        assert answer.status_code == 200 and answer.json()["results"][0]["name"] == "cloud1"
    stored.refresh_from_db()
    assert stored.last_used_at is not None

    client.force_login(people.users[OPERATOR])
    assert client.delete(made["Location"]).status_code == 204
    client.logout()
    refused = client.get("/api/v1/deployments/", HTTP_AUTHORIZATION=f"Token {value}")
    assert refused.status_code == 401
    assert_error_shape(refused, code="token_revoked")
    actions = list(AuditEvent.objects.filter(user=people.users[OPERATOR]).values_list("action", flat=True))
    assert "token.create" in actions and "token.revoke" in actions
    assert value not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_bad_expired_and_disabled_tokens_are_401(client, people):
    assert_error_shape(client.get("/api/v1/", HTTP_AUTHORIZATION="Token nonsense"), code="invalid_token")
    assert_error_shape(client.get("/api/v1/", HTTP_AUTHORIZATION="Token"), code="invalid_token")
    token, value = tokens.create_token(people.users[VIEWER], "old", expires_at=timezone.now() + timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Token {value}")
    assert expired.status_code == 401 and assert_error_shape(expired, code="token_expired")
    assert client.get("/api/v1/", HTTP_AUTHORIZATION=f"Token {people.keys[VIEWER]}").status_code == 200  # cached now
    people.users[VIEWER].is_active = False
    people.users[VIEWER].save()
    disabled = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Token {people.keys[VIEWER]}")
    assert disabled.status_code == 401 and assert_error_shape(disabled, code="user_inactive")
    # A session cookie does not rescue a bad token: the token header is decisive.
    client.force_login(people.users[OPERATOR])
    assert client.get("/api/v1/", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401


def test_polling_with_a_token_costs_no_query_for_it_once_cached(client, people, django_assert_num_queries):
    header = {"HTTP_AUTHORIZATION": f"Token {people.keys[VIEWER]}"}
    with django_assert_num_queries(2):  # first use: the token, its user and the role together; last_used_at
        assert client.get("/api/v1/", **header).status_code == 200
    with django_assert_num_queries(0):  # from the cache (Redis, shared by every process)
        assert client.get("/api/v1/", **header).status_code == 200
    assert client.get("/api/v1/deployments/", **header).status_code == 200


# --- the token cache: shared by every process, and a change takes effect at once ----------------------


def _cached_entry(value):
    from django.core.cache import caches

    return caches[tokens.CACHE].get(f"api-token:{tokens.digest(value)}")


def test_the_token_cache_is_redis_and_keeps_no_password_hash(client, people, settings):
    assert settings.CACHES[tokens.CACHE]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    value = people.keys[OPERATOR]
    assert _cached_entry(value) is None
    assert client.get("/api/v1/", HTTP_AUTHORIZATION=f"Token {value}").status_code == 200
    entry = _cached_entry(value)
    assert entry["role"] == OPERATOR and "operator-user" in entry["user"]
    assert people.users[OPERATOR].password not in repr(entry) and value not in repr(entry)


def _changes():
    """(what a change does to the user of the token, the answer the next request must get)."""
    def revoke_over_the_api(client, people, value):
        token = ApiToken.objects.get(key_hash=tokens.digest(value))
        client.force_login(people.users[OPERATOR])
        assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
        client.logout()

    def revoke_on_the_page(client, people, value):
        token = ApiToken.objects.get(key_hash=tokens.digest(value))
        client.force_login(people.users[OPERATOR])
        assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
        client.logout()

    def delete(client, people, value):
        ApiToken.objects.get(key_hash=tokens.digest(value)).delete()

    def disable(client, people, value):
        people.users[OPERATOR].is_active = False
        people.users[OPERATOR].save()

    def demote(client, people, value):
        set_role(people.users[OPERATOR], VIEWER)

    def remove_from_the_group(client, people, value):
        from django.contrib.auth.models import Group

        Group.objects.get(name=OPERATOR).user_set.remove(people.users[OPERATOR])

    def delete_the_user(client, people, value):
        people.users[OPERATOR].delete()

    return [(revoke_over_the_api, 401, "token_revoked"), (revoke_on_the_page, 401, "token_revoked"),
            (delete, 401, "invalid_token"), (disable, 401, "user_inactive"), (demote, 403, "permission_denied"),
            (remove_from_the_group, 403, "permission_denied"), (delete_the_user, 401, "invalid_token")]


@pytest.mark.parametrize("change,status,code", _changes(), ids=[change.__name__ for change, *_ in _changes()])
def test_a_change_to_a_cached_token_or_its_user_takes_effect_at_once(client, people, world, change, status, code):
    value = people.keys[OPERATOR]
    retry = f"/api/v1/deployments/{world.deployment.pk}/cancel/"  # an operator's action (409: no run to stop)
    for _ in range(2):
        assert client.post(retry, HTTP_AUTHORIZATION=f"Token {value}").status_code == 409
    assert isinstance(_cached_entry(value), dict)  # the next request would be answered from the cache
    change(client, people, value)
    assert_error_shape(client.post(retry, HTTP_AUTHORIZATION=f"Token {value}"), status, code)
    assert not isinstance(_cached_entry(value), dict)


def test_a_lookup_that_read_before_a_revoke_cannot_put_the_token_back(client, people):
    value = people.keys[VIEWER]
    stale = tokens._entry(tokens._find(tokens.digest(value)))  # read, then the revoke commits
    tokens.revoke(ApiToken.objects.get(key_hash=tokens.digest(value)))
    assert tokens._remember(f"api-token:{tokens.digest(value)}", stale, tokens.TOKEN_CACHE_SECONDS) is False
    assert_error_shape(client.get("/api/v1/", HTTP_AUTHORIZATION=f"Token {value}"), 401, "token_revoked")


def test_tokens_still_work_while_the_cache_is_down(client, people, settings, caplog):
    settings.CACHES = {**settings.CACHES, tokens.CACHE: {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}
    header = {"HTTP_AUTHORIZATION": f"Token {people.keys[VIEWER]}"}
    assert client.get("/api/v1/deployments/", **header).status_code == 200
    assert "API token cache unreachable" in caplog.text
    tokens.revoke(ApiToken.objects.get(key_hash=tokens.digest(people.keys[VIEWER])))
    assert_error_shape(client.get("/api/v1/deployments/", **header), 401, "token_revoked")


@pytest.mark.parametrize("environment,default,token_cache", [
    ({}, "locmem.LocMemCache", "dummy.DummyCache"),  # embedded: per-process memory; no token cache
    ({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/1"),
    ({"CELERY_BROKER_URL": "redis://broker:6379/15"}, "redis://broker:6379/0", "redis://broker:6379/0"),
    ({"CELERY_BROKER_URL": "redis://broker:6379/0", "VIO_CACHE_URL": "redis://cache:6380/3"},
     "redis://cache:6380/3", "redis://cache:6380/3"),
])
def test_the_caches_follow_the_broker_or_vio_cache_url(tmp_path, environment, default, token_cache):
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "VIO_CACHE_URL")}
    env.update(environment, VIO_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="vio_manager.settings")
    shown = subprocess.run([sys.executable, "-c", "from django.conf import settings; import json; "
                            "print(json.dumps(settings.CACHES))"], env=env, capture_output=True, text=True, check=True)
    caches = json.loads(shown.stdout)
    for alias, expected in (("default", default), (tokens.CACHE, token_cache)):
        assert expected in (caches[alias].get("LOCATION") or caches[alias]["BACKEND"]), caches


def test_another_users_token_is_not_found(client, people):
    theirs = people.targets[OPERATOR]
    header = {"HTTP_AUTHORIZATION": f"Token {people.keys[ADMIN]}"}
    assert_error_shape(client.get(f"/api/v1/tokens/{theirs.pk}/", **header), code="not_found")
    assert client.delete(f"/api/v1/tokens/{theirs.pk}/", **header).status_code == 404
    listed = client.get("/api/v1/tokens/", **header).json()["results"]
    assert {t["id"] for t in listed} == set(people.users[ADMIN].api_tokens.values_list("pk", flat=True))
    client.force_login(people.users[ADMIN])
    assert client.post(f"/account/tokens/{theirs.pk}/revoke/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_token_made_on_the_page_is_shown_once_and_revoked_there(client, people):
    client.force_login(people.users[VIEWER])
    nonce = client.get("/account/tokens/").context["form"]["nonce"].initial
    page = client.post("/account/tokens/", {"name": "grafana", "expires": "30", "nonce": nonce})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    value = re.search(r'<code id="new-token"[^>]*>([^<]+)</code>', page.content.decode()).group(1)
    assert "shown on this page only" in page.content.decode()
    again = client.get("/account/tokens/").content.decode()
    assert value not in again and value[:8] in again and "grafana" in again
    resent = client.post("/account/tokens/", {"name": "grafana", "expires": "30", "nonce": nonce})  # a reload
    assert 'id="new-token"' not in resent.content.decode() and "created already" in resent.content.decode()
    assert ApiToken.objects.filter(name="grafana").count() == 1

    client.logout()
    assert client.get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Token {value}").status_code == 200
    client.force_login(people.users[VIEWER])
    token = ApiToken.objects.get(name="grafana")
    assert token.expires_at > timezone.now() + timedelta(days=29)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    client.logout()
    assert client.get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Token {value}").status_code == 401
    assert AuditEvent.objects.filter(action="token.revoke", via="browser", target_id=str(token.pk)).exists()


# --- audit --------------------------------------------------------------------------------------


def test_registering_a_vcenter_leaves_no_password_in_the_audit_log(client, people, vcsim):
    client.force_login(people.users[ADMIN])
    made = client.post("/api/v1/vcenters/", {"name": "vc-audit", "host": vcsim.host, "port": vcsim.port,
                                             "username": vcsim.username, "password": vcsim.password},
                       content_type="application/json")
    assert made.status_code == 201, made.json()
    pk = made.json()["id"]
    assert client.post(f"/api/v1/vcenters/{pk}/accept-certificate/", {"fingerprint": vcsim.fingerprint},
                       content_type="application/json").status_code == 200
    edited = client.post(f"/vcenters/{pk}/edit/", {"name": "vc-audit2", "host": vcsim.host, "port": vcsim.port,
                                                   "username": vcsim.username, "password": "Another-Secret-99"})
    assert edited.status_code == 302

    created = AuditEvent.objects.get(action="vcenter.create")
    assert (created.username, created.via, created.ip_address, created.target_id) == ("admin-user", "api", "127.0.0.1", str(pk))
    assert created.detail == {"host": vcsim.host, "port": vcsim.port, "username": vcsim.username}
    assert AuditEvent.objects.get(action="vcenter.accept_certificate").detail["fingerprint"] == vcsim.fingerprint
    update = AuditEvent.objects.get(action="vcenter.update")
    assert update.via == "browser" and update.detail == {"fields": ["name"], "credentials_changed": True}
    everything = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert vcsim.password not in everything and "Another-Secret-99" not in everything


def test_changes_from_the_browser_and_the_api_are_in_the_audit_log(client, people, world):
    client.force_login(people.users[OPERATOR])
    assert client.post(f"/templates/{world.template.pk}/delete/").status_code == 302  # browser
    client.logout()
    header = {"HTTP_AUTHORIZATION": f"Token {people.keys[OPERATOR]}", "REMOTE_ADDR": "127.0.0.9"}
    assert client.delete(f"/api/v1/deployments/{world.deployment.pk}/", **header).status_code == 202  # API

    deleted = AuditEvent.objects.get(action="template.delete")
    assert (deleted.user, deleted.via, deleted.target_label, deleted.target_id) == (
        people.users[OPERATOR], "browser", "lab", str(world.template.pk))
    teardown = AuditEvent.objects.get(action="deployment.teardown")
    assert (teardown.via, teardown.ip_address, teardown.target_label) == ("api", "127.0.0.9", "cloud1")
    assert teardown.detail["credential"] == f"token {people.keys[OPERATOR][:8]}"

    client.force_login(people.users[ADMIN])
    page = client.get("/audit/").content.decode()
    assert "template.delete" in page and "deployment.teardown" in page and "127.0.0.9" in page
    assert page.index("deployment.teardown") < page.index("template.delete")  # newest first
    filtered = client.get("/audit/", {"action": "template", "user": "operator-user"}).content.decode()
    assert "template.delete" in filtered and "deployment.teardown" not in filtered
    api = client.get("/api/v1/audit-events/", {"action": "deployment.teardown"}).json()
    assert [e["action"] for e in api["results"]] == ["deployment.teardown"]
    assert client.get("/api/v1/audit-events/", {"since": (timezone.now() + timedelta(days=1)).date().isoformat()}
                      ).json()["results"] == []
    bad = client.get("/api/v1/audit-events/", {"since": "last tuesday"})
    assert bad.status_code == 400 and assert_error_shape(bad, code="invalid")["errors"][0]["field"] == "since"

    client.force_login(people.users[VIEWER])
    refused = client.get("/audit/")
    assert refused.status_code == 403 and "This needs the admin role" in refused.content.decode()
    assert "Audit log" not in client.get("/").content.decode()


def test_audit_log_is_paginated(client, people):
    for number in range(60):
        audit.record(audit.Actor.cli(), "test.event", detail={"n": number})
    client.force_login(people.users[ADMIN])
    first = client.get("/audit/").content.decode()
    assert "n: 59" in first and "n: 0<" not in first and "Page 1 of 2" in first
    assert "n: 0<" in client.get("/audit/", {"page": 2}).content.decode()


def test_forwarded_for_is_trusted_only_when_configured(client, people, settings):
    header = {"HTTP_AUTHORIZATION": f"Token {people.keys[VIEWER]}", "HTTP_X_FORWARDED_FOR": "203.0.113.7, 198.51.100.2"}
    client.post("/api/v1/tokens/", {"name": "a"}, content_type="application/json", **header)
    assert AuditEvent.objects.get(action="token.create").ip_address == "127.0.0.1"
    settings.VIO_TRUST_X_FORWARDED_FOR = True
    client.post("/api/v1/tokens/", {"name": "b"}, content_type="application/json", **header)
    assert AuditEvent.objects.filter(action="token.create").first().ip_address == "198.51.100.2"


def test_audit_events_are_append_only():
    event = audit.record(audit.Actor.cli(), "test.event", detail={"password": "x", "nested": {"api_token": "y"}})
    assert event.detail["nested"] == {} and "password" not in event.detail
    assert event.via == "cli" and event.detail["credential"].startswith("shell user ")
    event.action = "changed"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


# --- login lockout ----------------------------------------------------------------------------


def login(client, username, password, address="127.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_repeated_failures_lock_the_login_out_until_the_cool_off_ends(client, people, settings):
    user = people.users[OPERATOR]
    for attempt in range(4):
        assert login(client, user.username, "wrong").status_code == 200
    locked = login(client, user.username, "wrong")
    assert locked.status_code == 429
    message = locked.content.decode()
    assert re.search(r"locked until \d\d:\d\d UTC \(in 1[45]\s?minutes\)", message.replace("&nbsp;", " ").replace("\xa0", " "))
    right = login(client, user.username, PASSWORD)
    assert right.status_code == 429 and "even with the right password" in right.content.decode()
    assert "_auth_user_id" not in client.session
    assert 0 < int(right["Retry-After"]) <= 15 * 60

    # Another address, or another user name, is not locked out.
    assert login(client, user.username, PASSWORD, address="127.0.0.2").status_code == 302
    client.logout()
    assert login(client, people.users[VIEWER].username, PASSWORD).status_code == 302
    client.logout()

    events = list(AuditEvent.objects.filter(username=user.username).values_list("action", "detail"))
    assert [a for a, _ in events].count("login.failed") == 6 and [a for a, _ in events].count("login.locked_out") == 1
    assert {"reason": "locked_out"} in [d for a, d in events if a == "login.failed"]
    assert PASSWORD not in json.dumps(list(AuditEvent.objects.values()), default=str)

    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)  # the cool-off has passed
    time.sleep(1.1)
    assert login(client, user.username, PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="login.success", user=user, ip_address="127.0.0.1").exists()


def test_the_api_never_checks_a_password(client, people):
    """Passwords are checked by the login form only (throttled): the API takes API tokens and the
    sessions that form made, so it is no way around the lockout."""
    import base64

    basic = base64.b64encode(f"{people.users[ADMIN].username}:{PASSWORD}".encode()).decode()
    refused = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert refused.status_code == 401 and assert_error_shape(refused, code="not_authenticated")


def test_session_changes_need_the_csrf_token_and_token_requests_do_not(people, world):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people.users[OPERATOR])
    refused = browser.post(f"/api/v1/deployments/{world.deployment.pk}/cancel/")
    assert refused.status_code == 403 and "CSRF" in assert_error_shape(refused, code="permission_denied")["message"]
    script = Client(enforce_csrf_checks=True)
    answer = script.post(f"/api/v1/deployments/{world.deployment.pk}/cancel/",
                         HTTP_AUTHORIZATION=f"Token {people.keys[OPERATOR]}")
    assert answer.status_code == 409  # got through to the action: there is no run to cancel


def test_client_login_without_a_request_still_works(client, people):
    assert client.login(username=people.users[VIEWER].username, password=PASSWORD)


# --- pages -------------------------------------------------------------------------------------


def page_posts(world):
    vc, d, t = world.vcenter.pk, world.deployment.pk, world.template.pk
    return {
        ADMIN: [("/vcenters/add/", {}), (f"/vcenters/{vc}/edit/", {}), (f"/vcenters/{vc}/delete/", {}),
                (f"/vcenters/{vc}/certificate/", {"refresh": "1"}), (f"/nsx-managers/{world.nsx.pk}/delete/", {})],
        OPERATOR: [(f"/vcenters/{vc}/sync/", {}), (f"/vcenters/{vc}/test/", {}), (f"/deployments/{d}/retry/", {}),
                   (f"/deployments/{d}/cancel/", {}), (f"/deployments/{d}/teardown/", {}),
                   (f"/deployments/{d}/save-template/", {"save-name": "x"}), (f"/templates/{t}/delete/", {}),
                   ("/templates/upload/", {})],
    }


@pytest.mark.parametrize("who", [VIEWER, OPERATOR])
def test_pages_refuse_changes_beyond_the_role(client, people, world, who):
    client.force_login(people.users[who])
    for role, posts in page_posts(world).items():
        for url, data in posts:
            response = client.post(url, data)
            if RANK[who] < RANK[role]:
                assert response.status_code == 403, url
                assert f"This needs the {role} role" in response.content.decode()
            else:
                assert response.status_code in (200, 302), url
    assert not AuditEvent.objects.filter(user=people.users[VIEWER]).exclude(action__startswith="login").exists()


def test_viewer_sees_no_button_they_cannot_use(client, people, world):
    client.force_login(people.users[VIEWER])
    for url in ("/", "/deployments/", "/templates/", f"/templates/{world.template.pk}/", f"/deployments/{world.deployment.pk}/",
                f"/vcenters/{world.vcenter.pk}/", "/vcenters/"):
        page = client.get(url)
        assert page.status_code == 200, url
        text = page.content.decode()
        assert "Deploy OpenStack" not in text and "/deployments/new/" not in text, url
        for action in ("/teardown/", "/retry/", "/save-template/", "/sync/", "/edit/", "/delete/", "/vcenters/add/"):
            assert action not in text, (url, action)
    assert client.get("/deployments/new/").status_code == 403
    client.force_login(people.users[OPERATOR])
    page = client.get(f"/vcenters/{world.vcenter.pk}/").content.decode()
    assert "Deploy OpenStack" in client.get("/").content.decode()
    assert "/sync/" in page and "/edit/" not in page


def test_operator_uses_the_wizard_but_cannot_register_a_vcenter_there(client, people, vcsim):
    from testkit.wizard import Wizard

    client.force_login(people.users[OPERATOR])
    wizard = Wizard(client)
    wizard.next("start", {"name": "cloud1", "source": "new"})
    page = wizard.get("vcenter").content.decode()
    assert "register-form" not in page and "Register a vCenter" not in page and "An admin registers" in page
    refused = wizard.post("vcenter", {}, raw={"newvc-name": "x", "newvc-host": vcsim.host, "newvc-port": vcsim.port,
                                              "newvc-username": "u", "newvc-password": "p", "wizard_action": "register"})
    assert refused.status_code == 403 and "This needs the admin role" in refused.content.decode()
    assert not m.VCenter.objects.filter(name="x").exists()
    client.force_login(people.users[ADMIN])
    assert "Register a vCenter" in Wizard(client).get("vcenter").content.decode()


def test_an_account_without_a_role_sees_nothing_but_can_log_out(client, people):
    client.force_login(people.users["norole"])
    refused = client.get("/")
    assert refused.status_code == 403 and "no role" in refused.content.decode()
    assert client.post("/logout/").status_code == 302


# --- commands ----------------------------------------------------------------------------------


def test_create_user_gives_a_role_and_a_password_once(capsys):
    call_command("create_user", "olga", "--role", "operator")
    out = capsys.readouterr().out
    password = re.search(r"password: (\S+)", out).group(1)
    olga = get_user_model().objects.get(username="olga")
    assert olga.check_password(password) and role_of(olga) == OPERATOR
    call_command("create_user", "olga", "--role", "viewer")
    assert password not in capsys.readouterr().out
    assert role_of(get_user_model().objects.get(username="olga")) == VIEWER
    events = AuditEvent.objects.filter(target_label="olga").order_by("id")
    assert [(e.action, e.via) for e in events] == [("user.create", "cli"), ("user.set_role", "cli")]
    assert password not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_create_admin_is_in_the_admin_group(capsys):
    call_command("create_admin")
    admin = get_user_model().objects.get(username="admin")
    assert admin.groups.filter(name="admin").exists() and role_of(admin) == ADMIN
