"""Every page and endpoint needs a login; the login page works in a real browser."""

import re

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user_credentials():
    password = "correct-horse-battery-staple"
    get_user_model().objects.create_user("alice", password=password, is_staff=True, is_superuser=True)
    return "alice", password


def test_pages_redirect_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/"


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/health/"])
def test_api_refuses_anonymous_users_in_json(client, path):
    response = client.get(path)
    assert response.status_code in (401, 403)
    body = response.json()
    assert body["code"] == "not_authenticated" and body["message"].startswith("Authentication credentials were not provided")


def test_logged_in_user_sees_the_overview_and_the_api(client, admin_user_credentials):
    assert client.login(username=admin_user_credentials[0], password=admin_user_credentials[1])
    assert b"Overview" in client.get("/").content
    assert client.get("/api/v1/health/").json()["database"] == "ok"


def test_login_requires_csrf(admin_user_credentials):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/login/", {"username": admin_user_credentials[0], "password": admin_user_credentials[1]})
    assert response.status_code == 403


def test_create_admin_prints_a_generated_password_once(capsys):
    from django.core.management import call_command

    call_command("create_admin")
    first = capsys.readouterr().out
    password = re.search(r"password: (\S+)", first).group(1)
    assert get_user_model().objects.get(username="admin").check_password(password)
    call_command("create_admin")
    assert password not in capsys.readouterr().out


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_login_page_in_chromium(live_server, page, admin_user_credentials):
    page.goto(live_server.url + "/")
    assert page.url.startswith(live_server.url + "/login/")
    page.fill("#id_username", admin_user_credentials[0])
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    assert "Please enter a correct username and password" in page.inner_text("[role=alert]")

    page.fill("#id_username", admin_user_credentials[0])
    page.fill("#id_password", admin_user_credentials[1])
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    assert page.inner_text("h1") == "Overview"
    assert "not seen" in page.inner_text("#worker-status")
