"""Roles, API tokens and the lockout in Chromium: what a viewer sees, a token shown once, the
lockout message on the login page."""

import re
import urllib.request

import pytest
from django.contrib.auth import get_user_model

from vio_manager.access.roles import ADMIN, VIEWER, set_role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-password-for-tests"


def make_user(username, role):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    set_role(user, role)
    return user


def log_in(page, live_server, username, password=PASSWORD):
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")


def test_a_viewer_reads_and_makes_a_token_shown_once(live_server, page):
    make_user("vera", VIEWER)
    log_in(page, live_server, "vera")
    page.wait_for_url(live_server.url + "/")
    nav = page.inner_text(".topbar")
    assert "Deploy OpenStack" not in nav and "Audit log" not in nav and "vera (viewer)" in nav

    page.click("text=API tokens")
    page.fill("#id_name", "dashboard")
    page.click("#create-token")
    value = page.inner_text("#new-token")
    assert len(value) >= 40 and "shown on this page only" in page.inner_text("#new-token-card")
    page.screenshot(path="var/test/tokens-page.png", full_page=True)
    request = urllib.request.Request(live_server.url + "/api/v1/deployments/", headers={"Authorization": f"Bearer {value}"})
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 200

    page.reload()  # posts the form again: no second token, and the value is not shown again
    assert page.locator("#new-token").count() == 0 and value not in page.content()
    assert "created already" in page.inner_text("main")
    page.goto(live_server.url + "/account/tokens/")
    assert page.locator("#tokens tbody tr").count() == 1
    assert value[:8] in page.inner_text("#tokens")
    page.goto(live_server.url + "/audit/")
    assert "This needs the admin role" in page.inner_text("#forbidden")


def test_the_login_page_says_when_a_locked_out_login_may_try_again(live_server, page):
    make_user("adam", ADMIN)
    for _ in range(5):
        log_in(page, live_server, "adam", "wrong password")
    message = page.inner_text("#lockout")
    assert re.search(r"Too many failed logins for adam .* locked until \d\d:\d\d UTC", message)
    log_in(page, live_server, "adam")
    assert "even with the right password" in page.inner_text("#lockout")
    assert page.url.startswith(live_server.url + "/login/")


def test_an_admin_reads_the_audit_log(live_server, page):
    make_user("ada", ADMIN)
    log_in(page, live_server, "adam-typo", "wrong")
    log_in(page, live_server, "ada")
    page.wait_for_url(live_server.url + "/")
    page.click("text=Audit log")
    rows = page.inner_text("#audit-events")
    assert "login.success" in rows and "login.failed" in rows and "adam-typo" in rows
    page.fill("#id_action", "login.failed")
    page.click("#audit-filters button[type=submit]")
    rows = page.inner_text("#audit-events")
    assert "login.failed" in rows and "login.success" not in rows
    page.screenshot(path="var/test/audit-log.png", full_page=True)
