"""Words for people: every page and API answer produced by failures (a failed clone, a failed
power-on, a vCenter that cannot be reached, a teardown that fails because of it, bad input through
the API and through the forms) is read, and none of it carries Python or pyVmomi: no traceback, no
exception class name, no SDK dump. Each error message found is counted (the figure for the closing
note is printed); a person reads sentences, the API keeps its keys (`code`, `key`) for programs."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from deployments.choices import RunStatus
from deployments.services import launch, run_actions
from testkit.runs import FAST_REAPER, wait_for
from testkit.spec import ACKNOWLEDGED, registered_vcenter, valid_spec
from testkit.wizard import Wizard, walk

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RAW = re.compile(
    r"Traceback|\b[A-Z][A-Za-z]*(?:Error|Exception)\b|\b[A-Z][A-Za-z]+Fault\b|vim\.fault|vmodl|dynamicType|pyVmomi"
    r"|<class|object at 0x|Errno|\bFile \"|line \d+, in ")
ERROR_KEYS = {"message", "error", "detail", "last_sync_error", "status_message", "reason"}  # "message": of a 4xx


class Text(HTMLParser):
    """A page's visible text, and the texts of its error messages."""

    MESSAGE = re.compile(r"\b(field-error|message|error-summary|issues)\b")

    def __init__(self):
        super().__init__()
        self.parts, self.messages, self._skip, self._open = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style", "template"):
            self._skip += 1
        is_message = bool(self.MESSAGE.search(attrs.get("class") or "")) or attrs.get("role") == "alert"
        self._open.append((tag, is_message, len(self.parts)))
        for name in ("title", "aria-label", "value", "placeholder"):
            if attrs.get(name):
                self.parts.append(attrs[name])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self._skip = max(0, self._skip - 1)
        while self._open:
            opened, is_message, start = self._open.pop()
            if is_message:
                text = " ".join(self.parts[start:]).strip()
                if text:
                    self.messages.append(text)
            if opened == tag:
                break

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def strings(data, key=""):
    """Every string of a JSON answer, with the key it is under."""
    if isinstance(data, dict):
        for name, value in data.items():
            yield from strings(value, name)
    elif isinstance(data, list):
        for value in data:
            yield from strings(value, key)
    elif isinstance(data, str):
        yield key, data


def events(data):
    """The event rows of an answer (dicts with a level and a message)."""
    if isinstance(data, dict):
        if "level" in data and "message" in data:
            yield data
        for value in data.values():
            yield from events(value)
    elif isinstance(data, list):
        for value in data:
            yield from events(value)


class Reader:
    """Reads answers, keeps what a person would read, and the error messages in them."""

    def __init__(self, client):
        self.client, self.answers, self.messages = client, [], []

    def keep(self, what: str, response):
        body = response.content.decode(errors="replace")
        if response.get("Content-Type", "").startswith("application/json"):
            data = json.loads(body) if body else {}
            texts = [value for key, value in strings(data) if key not in ("key", "code", "field", "path")]
            self.messages += [value for key, value in strings(data) if value and (
                key in ERROR_KEYS and (key != "message" or response.status_code >= 400))]
            self.messages += [event["message"] for event in events(data) if event.get("level") in ("error", "warning")]
            self.answers.append((what, "\n".join(texts)))
        else:
            parser = Text()
            parser.feed(body)
            self.answers.append((what, "\n".join(parser.parts)))
            self.messages += parser.messages
        return response

    def get(self, url: str, **kwargs):
        return self.keep(f"GET {url}", self.client.get(url, **kwargs))

    def post(self, url: str, data=None, **kwargs):
        return self.keep(f"POST {url}", self.client.post(url, data, **kwargs))

    def deployment(self, deployment):
        pk = deployment.pk
        for url in ("/", "/deployments/", f"/deployments/{pk}/", f"/vcenters/{deployment.vcenter_id}/"):
            self.get(url)
        for url in (f"/api/v1/deployments/{pk}/", f"/api/v1/deployments/{pk}/status/", f"/api/v1/deployments/{pk}/runs/",
                    f"/api/v1/deployments/{pk}/events/?limit=1000", f"/api/v1/deployments/{pk}/vms/"):
            self.get(url)
        for number in deployment.runs.values_list("number", flat=True):
            self.get(f"/api/v1/deployments/{pk}/runs/{number}/")
            self.get(f"/api/v1/deployments/{pk}/events/?run={number}&limit=1000")

    def raw(self) -> list[tuple[str, str]]:
        return [(what, match.group(0)) for what, text in self.answers for match in RAW.finditer(text)]


def test_the_scanner_finds_python_and_pyvmomi():
    for text in ("Step folders failed: KeyError: 'vmFolder'", "(vim.fault.InvalidState) { dynamicType = <unset> }",
                 "Traceback (most recent call last):", "<class 'AttributeError'>", "<Foo object at 0x7f3a>",
                 "vmodl.fault.ManagedObjectNotFound", "[Errno 111] Connection refused", "InsufficientResourcesFault"):
        assert RAW.search(text), text
    for text in ("Cloning cloud1-db-02 failed: vCenter reports insufficient resources.", "The error is on the gateway field.",
                 "Errors: none"):
        assert not RAW.search(text), text


def test_failures_and_bad_input_are_told_in_words(vcsim_factory, private_queue, ova_url, admin_client):
    from tests.conftest import start_worker, test_database_url

    reader = Reader(admin_client)
    simulator = vcsim_factory()
    vcenter = registered_vcenter(simulator)
    worker = start_worker(test_database_url(), private_queue, env=dict(FAST_REAPER, VIO_ENGINE_UNREACHABLE_SECONDS="3"))
    try:
        # A clone that vCenter refuses.
        data = valid_spec(simulator)
        data.update(name="words1", topology="compact", appliance_ova={"url": ova_url})
        simulator.inject(method="CloneVM_Task", fault="InsufficientResourcesFault", count=1)
        deployment = launch.create_deployment(data, acknowledged={ACKNOWLEDGED})
        run = wait_for(deployment.runs.get(), timeout=120)
        failed = run.steps.get(status="failed")
        assert run.status == RunStatus.FAILED and failed.kind == "clone", (failed.key, failed.error)
        reader.deployment(deployment)

        # A power-on that vCenter refuses, after a retry from the page.
        simulator.inject(method="PowerOnVM_Task", fault="InsufficientResourcesFault", count=1)
        reader.post(f"/deployments/{deployment.pk}/retry/")
        run = wait_for(run, timeout=120)
        assert run.status == RunStatus.FAILED and run.steps.get(status="failed").kind == "power_on"
        reader.deployment(deployment)

        # vCenter goes away: the connection test, a sync, and a teardown that fails because of it.
        simulator.running.stop()
        reader.post(f"/vcenters/{vcenter.pk}/test/", follow=True)
        reader.post(f"/api/v1/vcenters/{vcenter.pk}/test-connection/")
        reader.post(f"/api/v1/vcenters/{vcenter.pk}/refresh-certificate/")
        reader.post(f"/vcenters/{vcenter.pk}/certificate/", {"refresh": "1"}, follow=True)
        teardown = run_actions.teardown(deployment)
        teardown = wait_for(teardown, timeout=90)
        assert teardown.status == RunStatus.FAILED
        reader.deployment(deployment)
        assert "cannot be reached" in reader.get(f"/deployments/{deployment.pk}/").content.decode()
    finally:
        worker.stop()
        Path("/tmp/words-worker.log").write_text("".join(worker.log))  # what the worker did, should a wait time out

    # Bad input through the API.
    spec = valid_spec(simulator)
    deep = current = []
    for _ in range(200):  # JSON nested deeper than any spec
        current.append([])
        current = current[0]
    bad_specs = [
        {},
        dict(spec, name="Bad Name!"),
        dict(spec, management_network=dict(spec["management_network"], ip_ranges=[{"start": "10.20.0.40", "end": "10.20.0.10"}])),
        dict(spec, management_network=dict(spec["management_network"], gateway="10.0.0.0/24")),
        dict(spec, vcenter={"host": "a.b.c..", "port": "many"}),
        dict(spec, compute_clusters=[{"cluster": "Compute-A", "datastore_regex": "(.+)+X["}]),
        dict(spec, keystone=dict(spec["keystone"], admin_password="short")),
        dict(spec, unexpected={"a": [1, 2]}),
        {"a": deep},
    ]
    for body in bad_specs:
        for url in ("/api/v1/deployments/", "/api/v1/deployments/validate/", "/api/v1/deployments/plan/"):
            response = reader.keep(f"POST {url}", admin_client.post(url, json.dumps({"spec": body}), content_type="application/json"))
            assert response.status_code < 500, (url, response.status_code)
    for url, body in (("/api/v1/vcenters/", {"name": "x", "host": "a.b.c..", "port": 443, "username": "u", "password": "p"}),
                      ("/api/v1/vcenters/", {"name": "x", "host": "y" * 64 + ".example", "port": 0}),
                      ("/api/v1/templates/", {"name": "t\u0000", "document": "not json"}),
                      ("/api/v1/deployments/", "{not json")):
        data = body if isinstance(body, str) else json.dumps(body)
        assert reader.keep(f"POST {url}", admin_client.post(url, data, content_type="application/json")).status_code < 500
    for url in ("/api/v1/deployments/?status=exploded", "/api/v1/audit-events/?user=%00", "/api/v1/deployments/999999/",
                "/api/v1/no-such-thing/", f"/api/v1/deployments/{deployment.pk}/runs/99/"):
        assert reader.get(url).status_code < 500, url

    # An advisory warning: a sentence to read first, its key beside it for programs.
    answer = reader.keep("POST validate", admin_client.post("/api/v1/deployments/validate/", json.dumps({"spec": dict(spec, name="words3")}),
                                                            content_type="application/json")).json()
    warning = next(issue for issue in answer["issues"] if issue["severity"] == "advisory")
    assert warning["key"] == ACKNOWLEDGED and "@" not in warning["message"] and "localhost" in warning["message"]

    # Bad input through the forms.
    from django.core.files.uploadedfile import SimpleUploadedFile

    reader.post("/vcenters/add/", {"name": "vc2", "host": "a.b.c..", "port": 443, "username": "u", "password": "p"})
    reader.post("/nsx-managers/add/", {"name": "nsx2", "host": "127.0.0.1", "port": 70000, "username": "", "password": ""})
    for content in (b"{not json", b"[" * 5000 + b"]" * 5000, json.dumps({"schema_version": 1, "spec": bad_specs[3]}).encode()):
        reader.post("/templates/upload/", {"name": "bad", "file": SimpleUploadedFile("bad.json", content, "application/json")})
    wizard = Wizard(admin_client)
    reader.keep("wizard start", wizard.post("start", {"name": "Bad Name!", "source": "new"}))
    good = valid_spec(simulator)
    good["name"] = "words2"
    walk(wizard, good, vcenter, until="management_network")
    reader.keep("wizard network", wizard.post("management_network", {
        "portgroup": "VIO-Management", "netmask": "255.255.255.0", "gateway": "10.0.0.0/24",
        "ip_ranges": "10.20.0.40-10.20.0.10\nnonsense", "dns_servers": "10.20.0.2, 300.1.1.1"}))

    raw = reader.raw()
    Path("/tmp/words-messages.txt").write_text("\n".join(sorted(set(reader.messages))))  # to read them all
    print(f"\nwords: {len(reader.answers)} answers read, {len(reader.messages)} error messages checked, "
          f"{len(raw)} with raw Python or pyVmomi")
    assert len(reader.messages) >= 40  # the failures above did produce messages to read
    assert raw == [], raw
