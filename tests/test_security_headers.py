"""Every page answers with the Content-Security-Policy (no inline script, no inline style, nothing
from elsewhere) and, for a signed-in user, `Cache-Control: no-store`; no page carries an inline
<script>, an on* attribute, a style attribute or a javascript: URL, so the policy breaks nothing. The
API's answers are no-store too, the API docs keep a policy of their own, and every page of the URL
configuration is visited (a new page is checked without anyone adding it here)."""

from html.parser import HTMLParser
from unittest import mock

import pytest
from django.test import Client
from django.urls import get_resolver, resolve

from testkit import pages
from vio_manager.middleware import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db

# Pages that are not read with a GET of their own: actions (POST), redirects and downloads.
NOT_PAGES = {"logout", "deployment-new", "deployment-change", "deployment-retry", "deployment-save-template", "endpoint-test",
             "endpoint-sync", "token-revoke", "favicon", "template-download", "deployment-run-timeline",
             "deployment-repair"}  # a repair's confirmation needs a live finding: tests/test_health_browser.py checks it



class Inline(HTMLParser):
    """What a strict policy would block in a page: inline scripts, handlers, styles."""

    def __init__(self):
        super().__init__()
        self.found, self._in_script = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not attrs.get("src"):
                self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append("inline script text")


def inline_parts(html: str) -> list[str]:
    parser = Inline()
    parser.feed(html)
    return parser.found


def test_the_checker_finds_what_the_policy_blocks():
    assert inline_parts('<form onsubmit="return confirm(1)"></form>') == ["onsubmit= on <form>"]
    assert inline_parts("<script>alert(1)</script>") == ["<script> without src", "inline script text"]
    assert inline_parts('<span style="width:5%"></span><a href="javascript:x()">x</a>') == [
        "style= on <span>", "javascript: URL on <a>"]
    assert inline_parts('<script src="/static/js/vio.js" defer></script><dialog id="d"></dialog>') == []


@pytest.fixture
def world(vcsim, nsxv, admin_user):
    return pages.build(vcsim, nsxv, admin_user)


def _page_names() -> set[str]:
    names = set()

    def walk(resolver):
        for entry in resolver.url_patterns:
            if hasattr(entry, "url_patterns"):
                walk(entry)
            elif entry.name and not str(entry.pattern).startswith(("api/", "^")) and "api" not in entry.name:
                names.add(entry.name)

    walk(get_resolver())
    return names


def test_every_page_has_the_policy_no_store_and_nothing_inline(admin_client, client, world, vcsim):
    start, review = pages.walk_to_review(admin_client, world, vcsim)
    urls = pages.page_urls(world, start, review)
    wizard_id = start.split("/")[3]
    steps = ["vcenter", "datacenter", "management_network", "external_network", "load_balancer", "compute", "glance",
             "neutron", "dvs", "keystone", "syslog", "appliance"]
    urls += [(f"wizard step {step}", f"/deployments/new/{wizard_id}/{step}/") for step in steps]
    urls += [("timeline fragment", f"/deployments/{world.cloud.pk}/runs/1/timeline/"),
             ("health fragment", f"/deployments/{world.cloud.pk}/health/"),
             ("template download", f"/templates/{world.template.pk}/download/")]

    visited, inline = set(), {}
    for name, url in urls:
        response = admin_client.get(url, follow=True)
        assert response.status_code == (404 if name == "404" else 200), (name, url, response.status_code)
        url = response.request["PATH_INFO"]  # where a redirect led
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, name
        assert "no-store" in response["Cache-Control"].split(", "), (name, response.get("Cache-Control"))
        if name != "404":
            visited.add(resolve(url.split("?")[0]).url_name)
        if response["Content-Type"].startswith("text/html"):
            found = inline_parts(response.content.decode())
            if found:
                inline[name] = found
    assert inline == {}
    assert _page_names() - NOT_PAGES - visited - {"login"} == set(), "a page no test visits"

    # Signed out: the login page has the policy too.
    login = client.get("/login/")
    assert login["Content-Security-Policy"] == CONTENT_SECURITY_POLICY and not inline_parts(login.content.decode())


def test_the_api_is_no_store_and_the_docs_keep_their_own_policy(admin_client, client, world):
    for url in ("/api/v1/", f"/api/v1/deployments/{world.cloud.pk}/", f"/api/v1/deployments/{world.cloud.pk}/status/",
                "/api/v1/vcenters/", "/api/schema/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url
    refused = client.get("/api/v1/deployments/")
    assert refused.status_code in (401, 403) and refused["Cache-Control"] == "no-store"
    for url in ("/api/docs/", "/api/redoc/"):
        response = admin_client.get(url)
        policy = response["Content-Security-Policy"]
        assert response.status_code == 200 and policy != CONTENT_SECURITY_POLICY and "script-src" not in policy, url
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert not [part for part in inline_parts(response.content.decode()) if "script" in part], url


def test_the_500_page_is_styled_with_the_navigation_and_the_policy(admin_client):
    admin_client.raise_request_exception = False
    with mock.patch("vio_manager.views.last_answered_ping", side_effect=KeyError("vmFolder")):
        response = admin_client.get("/")
    page = response.content.decode()
    assert response.status_code == 500 and "Something went wrong on the appliance" in page
    assert 'href="/deployments/"' in page and "css/vio" in page and "KeyError" not in page and "vmFolder" not in page
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY and response["Cache-Control"] == "no-store"


def test_the_404_page_is_styled_and_says_what_is_missing(admin_client, world):
    response = admin_client.get("/deployments/999999/")
    page = response.content.decode()
    assert response.status_code == 404 and "There is no such deployment: it may have been deleted." in page
    assert 'class="topbar"' in page and 'href="/deployments/"' in page and "matches the given query" not in page
    assert admin_client.get("/no/such/page/").status_code == 404
    icon = Client().get("/favicon.ico")  # anonymous too: browsers ask for it on any page
    assert icon.status_code == 301 and icon["Location"].startswith("/static/favicon") and icon["Location"].endswith(".svg")
    api = admin_client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404 and api["Content-Type"].startswith("application/json")
