"""Property-based tests of the HTML forms: Hypothesis posts hostile input to the real views through
Django's test client, with CSRF checked as a browser meets it, as raw multipart bodies (bytes that are
not UTF-8, lone surrogates as their WTF-8 bytes, NUL, CR/LF, bidirectional overrides, over-long
labels, deep JSON, 5,000-digit numbers ...). Every answer is a page: never a 500; a refused form is
shown again with its error on the page; an accepted one redirects, and the page it leads to (and a
template's download) opens.

The forms: the template upload, the wizard's first step from a template file, the vCenter and NSX
Manager add and edit forms. No network: every host the forms are given is refused at the socket (a
name the resolver would refuse before any lookup is refused the same way: the IDNA codec runs first).

Reproducible in CI (derandomized, a bounded number of examples); `make fuzz` randomizes it with many
more (VIO_FUZZ_RANDOM=1, VIO_FUZZ_EXAMPLES). What a fuzz run found is below as explicit cases."""

import copy
import json
import os
import re
import socket
from types import SimpleNamespace

import pytest
from django.test import Client
from django.utils.html import escape
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from deployments.models import DeploymentTemplate
from inventory import models as m
from testkit.factories import vcenter_row
from testkit.spec import valid_spec

pytestmark = pytest.mark.django_db

RANDOM = os.environ.get("VIO_FUZZ_RANDOM") == "1"


def fuzz(ci_examples: int):
    """Hypothesis' settings: derandomized with ci_examples in CI; random with VIO_FUZZ_EXAMPLES under make fuzz."""
    return settings(max_examples=int(os.environ.get("VIO_FUZZ_EXAMPLES") or ci_examples), derandomize=not RANDOM,
                    database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


# --- hostile values --------------------------------------------------------------------------------

KNOWN_BAD = [
    "", " ", "\x00", "a\x00b", "\r\n", "a\r\nX-Injected: 1", "\u2028", "\u202e", "\ufeff", "\u200b", "é", "☃",
    "\U0001f600", "%00", "%", "'", '"', "\\", "<script>alert(1)</script>", "{{ 7*7 }}", "{% debug %}", "${x}",
    "a.b.c..", "..", ".", "-", "x" * 64, "a." * 130, "x" * 64 + ".example.com", "[::1]", "::1", "127.0.0.1",
    "localhost", "0", "-1", "65536", "99999999999999999999", "1e400", "NaN", "../../etc/passwd", "\ud800",
    "\udfff", "a\ud800b", "x" * 300,
]
_chars = st.characters(exclude_categories=())  # every code point, lone surrogates included


def wtf8(text: str) -> bytes:
    """UTF-8, with a lone surrogate as the three bytes a careless client sends for it (not UTF-8)."""
    return text.encode("utf-8", "surrogatepass")


texts = st.one_of(st.sampled_from(KNOWN_BAD), st.text(_chars, max_size=120))
values = st.one_of(texts.map(wtf8), st.binary(max_size=60))  # what a form field receives, as bytes
HOST_NAMES = ["a.b.c..", "a..b", "..", ".", ".example.com", "x" * 64, "x" * 64 + ".example.com", "a." * 130, "é" * 64,
              "-", "[::1]", "vc\x00.example.com", "\ud800.example.com", "a b", "http://vc.example.com/",
              "vc.example.com:443", "vc.example.com."]
hosts = st.one_of(
    st.sampled_from(HOST_NAMES),
    st.sampled_from(KNOWN_BAD),
    st.from_regex(r"\A[a-z0-9-]{1,70}(\.[a-z0-9-]{0,70}){0,4}\.?\Z"),  # near host names: labels over 63, empty
    st.text(_chars, max_size=80),
).map(wtf8)
ports = st.one_of(st.integers(-(2**70), 2**70).map(str), st.sampled_from(["443", "0", "65535", "65536", "", "1.5"]),
                  texts).map(wtf8)

# --- template files -----------------------------------------------------------------------------------


class Lab:  # where the template's spec points (templates are checked without the inventory)
    host, port = "127.0.0.1", 443


def template_document(name: str = "lab") -> dict:
    spec = valid_spec(Lab)
    del spec["keystone"]["admin_password"]
    return {"kind": "vio-manager/deployment-template", "name": name, "schema_version": 1, "spec": spec}


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


VALID = template_document()
PATHS = list(_paths(VALID))[1:]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**40), 10**40), st.floats(allow_nan=False, allow_infinity=False),
              texts),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=12,
)


def _replace(document: dict, path: tuple, value) -> dict:
    document = copy.deepcopy(document)
    node = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return document


def _dumps(document) -> bytes:
    return wtf8(json.dumps(document, ensure_ascii=False))


template_files = st.one_of(
    # a valid template with one value replaced: gets past the JSON reader to the spec's checks
    st.builds(_replace, st.just(VALID), st.sampled_from(PATHS), json_values).map(_dumps),
    # a valid template under a hostile name (the download's Content-Disposition carries it)
    texts.map(lambda name: _dumps(dict(VALID, name=name))),
    json_values.map(_dumps),  # any JSON at all
    st.integers(20, 5000).map(lambda depth: b"[" * depth + b"]" * depth),  # deep
    st.integers(20, 5000).map(lambda digits: b'{"schema_version": 1' + b"0" * digits + b', "spec": {}}'),  # long numbers
    st.sampled_from([b'{"spec": {"vcenter": {"port": NaN}}}', b'{"spec": {}, "name": "\\ud800"}',
                     b'{"spec": {}, "name": "a\\u0000b"}', b"\xef\xbb\xbf{}", b"", b"\x00" * 10]),
    st.binary(max_size=300),
)
file_names = st.one_of(st.just("lab.vio-template.json"),
                       st.text(st.characters(exclude_categories=(), exclude_characters='"\r\n'), max_size=80))


# --- posting as a browser does: multipart, CSRF token from the page ------------------------------------------

BOUNDARY = b"vio-fuzz-7MA4YWxkTrZu0gW"


def multipart(fields: dict[str, bytes], files: dict[str, tuple[str, bytes]]) -> bytes:
    body = b""
    for name, value in fields.items():
        body += b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (BOUNDARY, name.encode(), value)
    for name, (file_name, content) in files.items():
        body += (b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                 b"Content-Type: application/json\r\n\r\n%s\r\n" % (BOUNDARY, name.encode(), wtf8(file_name), content))
    return body + b"--%s--\r\n" % BOUNDARY


class Browser:
    """An admin's session in Django's test client with CSRF enforced: the token comes from the page."""

    def __init__(self, user):
        self.client = Client(enforce_csrf_checks=True)
        self.client.force_login(user)

    def token(self, url: str) -> str:
        page = self.client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    def post(self, url: str, fields: dict[str, bytes], files: dict | None = None, token_from: str | None = None):
        fields = {"csrfmiddlewaretoken": self.token(token_from or url).encode(), **fields}
        return self.client.generic("POST", url, multipart(fields, files or {}),
                                   content_type=f"multipart/form-data; boundary={BOUNDARY.decode()}")


def assert_shown_or_accepted(response, form_key: str = "form", extra_errors=()) -> bool:
    """The answer to a posted form: a redirect (accepted: True), or the page again with every error on it."""
    assert response.status_code != 500
    if currently_in_test_context():  # also called by the fixed cases, outside any Hypothesis test
        event(f"answered {response.status_code}")  # pytest --hypothesis-show-statistics shows how many reached what
    if response.status_code == 302:
        return True
    assert response.status_code == 200, (response.status_code, response.content[:500])
    html = response.content.decode()
    errors = [str(error) for errors in response.context[form_key].errors.values() for error in errors]
    errors += [str(issue.message) for issue in extra_errors]
    assert errors, "the form was refused without an error"
    for error in errors:
        assert escape(error) in html, f"the error {error!r} is not on the page"
    return False


@pytest.fixture
def browser(admin_user):
    return Browser(admin_user)


@pytest.fixture
def no_network(monkeypatch):
    """Hosts from the fuzzer reach nothing: every name is refused at resolution (after the IDNA codec,
    as the real resolver does) and every connection is refused."""
    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host:
            host.encode("idna")
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (the form tests reach no network)")

    def connect(sock, address):
        raise ConnectionRefusedError("the form tests reach no network")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)


# --- the template upload ------------------------------------------------------------------------------


def post_template(browser, content: bytes, file_name: str, name: bytes = b"", description: bytes = b""):
    response = browser.post("/templates/upload/", {"name": name, "description": description},
                            {"file": (file_name, content)})
    accepted = assert_shown_or_accepted(response, extra_errors=response.context["issues"] if response.context else ())
    if accepted:  # the template's pages open, and its download is a file with a well-formed name
        detail = browser.client.get(response["Location"])
        assert detail.status_code == 200
        pk = int(response["Location"].rstrip("/").rsplit("/", 1)[-1])
        for download in (browser.client.get(f"/templates/{pk}/download/"),
                         browser.client.get(f"/api/v1/templates/{pk}/download/")):
            assert download.status_code == 200
            assert re.fullmatch(r'attachment; filename(="[\t\x20-\x7e]*"|\*=utf-8\'\'[A-Za-z0-9%._~!$&\'()*+,;=:@/-]+)',
                                download["Content-Disposition"]), download["Content-Disposition"]
    return response


@fuzz(40)
@given(content=template_files, file_name=file_names, name=st.one_of(st.just(b""), values), description=values)
def test_template_upload_answers_every_file_with_a_page(browser, content, file_name, name, description):
    post_template(browser, content, file_name, name, description)


# --- the wizard's first step, from a template file --------------------------------------------------------------


def post_wizard_start(browser, content: bytes, file_name: str, name: bytes, source: bytes = b"file"):
    start = browser.client.get("/deployments/new/")
    assert start.status_code == 302, start.status_code
    url = start["Location"]
    wizard_id = re.match(r"^/deployments/new/([0-9a-f]+)/start/", url).group(1)
    fields = {"start-name": name, "start-source": source, f"deploy_{wizard_id}-current_step": b"start"}
    response = browser.post(url, fields, {"start-template_file": (file_name, content)})
    if assert_shown_or_accepted(response):
        assert response["Location"].endswith("/vcenter/"), response["Location"]
        assert browser.client.get(response["Location"]).status_code == 200
    return response


deployment_names = st.one_of(st.from_regex(r"\Acloud[a-z0-9-]{0,10}\Z"), values)


@fuzz(30)
@given(content=template_files, file_name=file_names, name=deployment_names,
       source=st.one_of(st.just(b"file"), st.just(b"file"), st.just(b"saved"), values))
def test_wizard_start_from_a_template_file_answers_with_a_page(browser, content, file_name, name, source):
    post_wizard_start(browser, content, file_name, name.encode() if isinstance(name, str) else name, source)


# --- vCenter and NSX Manager, add and edit ---------------------------------------------------------------


def post_endpoint(browser, url: str, fields: dict[str, bytes]):
    response = browser.post(url, fields)
    if assert_shown_or_accepted(response):
        assert browser.client.get(response["Location"]).status_code == 200
    return response


@pytest.fixture
def endpoints(db):
    vcenter = vcenter_row("vc-fuzz")
    nsx = m.NsxManager.objects.create(name="nsx-fuzz", host="127.0.0.1", port=1, username="admin", password="x",
                                      certificate_sha256=":".join(["CD"] * 32), vcenter=vcenter)
    return SimpleNamespace(vcenter=vcenter, nsx=nsx)


FIELDS = {"name": values, "host": hosts, "port": ports, "username": values, "password": values}


@st.composite
def endpoint_forms(draw, vcenter: bool = False) -> dict[str, bytes]:
    """A registration that would pass but for the fields drawn hostile (one or more): each bad value
    meets the checks behind the others, up to the connection."""
    fields = {"name": b"vc-%d" % draw(st.integers(0, 10**6)), "host": b"vcenter.example.com", "port": b"443",
              "username": b"administrator@vsphere.local", "password": b"a-password"}
    strategies = dict(FIELDS, vcenter=values) if vcenter else FIELDS
    one = st.sampled_from(sorted(strategies)).map(lambda name: {name})
    for name in draw(st.one_of(one, one, st.sets(st.sampled_from(sorted(strategies)), min_size=2))):
        fields[name] = draw(strategies[name])
    return fields


@fuzz(25)
@given(fields=endpoint_forms())
def test_vcenter_add_and_edit_answer_with_a_page(browser, no_network, endpoints, fields):
    post_endpoint(browser, "/vcenters/add/", fields)
    post_endpoint(browser, f"/vcenters/{endpoints.vcenter.pk}/edit/", fields)


@fuzz(25)
@given(fields=endpoint_forms(vcenter=True))
def test_nsx_manager_add_and_edit_answer_with_a_page(browser, no_network, endpoints, fields):
    fields.setdefault("vcenter", str(endpoints.vcenter.pk).encode())
    post_endpoint(browser, "/nsx-managers/add/", fields)
    post_endpoint(browser, f"/nsx-managers/{endpoints.nsx.pk}/edit/", fields)


# --- the cases the review and the fuzz runs found, as explicit tests ---------------------------------------

DEEP = b"[" * 5000 + b"]" * 5000
LONG_NUMBER = b'{"schema_version": 1' + b"0" * 5000 + b', "spec": {}}'
FILES = [  # (file content, what the page says)
    (DEEP, "nests deeper than 32 levels"),  # RecursionError: a 500 before
    (LONG_NUMBER, "digits; at most 30 are accepted"),  # int() of 5,000 digits: a ValueError, a 500 before
    (b'{"spec": {"vcenter": {"port": NaN}}}', "NaN is not JSON"),
    (b'{"spec": {}, "name": "a\\u0000b"}', "must not contain NUL"),
    (b'{"spec": {}, "name": "\\ud800"}', "lone surrogates"),
    (b"\xff\xfe{}", "not UTF-8"),
]


@pytest.mark.parametrize("content, says", FILES, ids=["deep", "long-number", "nan", "nul", "surrogate", "not-utf8"])
def test_template_upload_refuses_hostile_files_on_the_page(browser, content, says):
    response = post_template(browser, content, "lab.json")
    assert response.status_code == 200 and escape(says) in response.content.decode()


@pytest.mark.parametrize("content, says", FILES, ids=["deep", "long-number", "nan", "nul", "surrogate", "not-utf8"])
def test_wizard_start_refuses_hostile_template_files_on_the_page(browser, content, says):
    response = post_wizard_start(browser, content, "lab.json", b"cloud1")
    assert response.status_code == 200 and escape(says) in response.content.decode()


@pytest.mark.parametrize("name", ["lab\u2028two", "☃ snow", 'a "quoted" name', "x" * 100])
def test_an_uploaded_template_with_any_allowed_name_downloads(browser, name):
    """A name a template may have (one line, any script): its pages open and its download is named."""
    response = post_template(browser, _dumps(dict(VALID, name=name)), "lab.json")
    if "\u2028" in name:  # a line separator is not one line: refused on the page
        assert response.status_code == 200 and "line" in response.content.decode()
    else:
        assert response.status_code == 302
        assert DeploymentTemplate.objects.filter(name=name).exists()


@pytest.mark.parametrize("kind", ["vcenters", "nsx-managers"])
@pytest.mark.parametrize("host, says", [
    ("a.b.c..", "it has an empty label"),  # an AttributeError on exc.reason: a 500 before
    ("x" * 64, "64 characters long; at most 63"),
    ("x" * 64 + ".example.com", "64 characters long; at most 63"),
    ("vc\x00.example.com", "Null characters are not allowed"),
    ("\ud800.example.com", "not a valid internationalized name"),  # its WTF-8 bytes arrive as U+FFFD
])
def test_endpoint_forms_refuse_bad_host_names_on_the_page(browser, no_network, endpoints, kind, host, says):
    fields = {"name": b"new", "host": wtf8(host), "port": b"443", "username": b"admin", "password": b"x",
              "vcenter": str(endpoints.vcenter.pk).encode()}
    pk = endpoints.vcenter.pk if kind == "vcenters" else endpoints.nsx.pk
    for url in (f"/{kind}/add/", f"/{kind}/{pk}/edit/"):
        response = post_endpoint(browser, url, fields)
        assert response.status_code == 200 and escape(says) in response.content.decode(), (url, host)
        assert "has-error" in response.content.decode()
