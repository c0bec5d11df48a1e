"""No request can hold a worker: each input that once did (a backtracking datastore pattern, a /0 address
range, 20,000 ranges, unbounded lists, a huge body, deeply nested JSON, a 5,000-digit number) is answered
with a 4xx within a second, through the API and through the template upload form (whose refusals are the
page again with the error, as every form of the appliance answers). The bound is functional, not a
benchmark: the old code took minutes or never answered on the same input.

Run with -s to see each case's status and time."""

import copy
import io
import json
import time

import pytest

from deployments.models import Deployment, DeploymentTemplate
from deployments.services.secrets import split_secrets
from testkit.spec import registered_vcenter, valid_spec
from testkit.wizard import Wizard

pytestmark = pytest.mark.django_db

BOUND = 1.0  # seconds


@pytest.fixture
def synced(vcsim):
    """A registered, synced vCenter: the inventory checks (addresses held, datastore patterns) run."""
    return registered_vcenter(vcsim)


def timed(capsys, label: str, send):
    start = time.monotonic()
    response = send()
    elapsed = time.monotonic() - start
    with capsys.disabled():
        print(f"\n  {label}: {response.status_code} in {elapsed * 1000:.0f} ms", end="")
    assert elapsed < BOUND, f"{label}: {elapsed:.2f} s"
    return response


def post_json(client, url: str, body) -> object:
    return client.post(url, json.dumps(body) if not isinstance(body, (str, bytes)) else body,
                       content_type="application/json")


def refused(response, status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert body["code"] and body["message"]
    return body


def fields(body: dict) -> set[str]:
    return {error["field"] for error in body["errors"]}


# --- the spec, through the API ------------------------------------------------------------------------


def hostile(vcsim, change) -> dict:
    data = valid_spec(vcsim)
    change(data)
    return {"spec": data}


def wide_range(data):
    network = data["management_network"]
    network.update(netmask="0.0.0.0", ip_ranges=[{"start": "0.0.0.0", "end": "255.255.255.255"}])


def many_ranges(count):
    def change(data):
        data["management_network"]["ip_ranges"] = [{"start": f"10.{i // 250}.{i % 250}.1", "end": f"10.{i // 250}.{i % 250}.9"}
                                                   for i in range(count)]
    return change


def overlapping_ranges(data):
    data["management_network"]["ip_ranges"] = [{"start": "10.20.0.10", "end": f"10.20.0.{200 - i}"} for i in range(64)]


SPEC_CASES = {
    "datastore regex (.+)+X": (lambda d: d["compute_clusters"].__setitem__(0, {"cluster": "Compute-A", "datastore_regex": "(.+)+X"}),
                               "spec.compute_clusters.0.datastore_regex"),
    "datastore regex (a|aa)*$ ": (lambda d: d["compute_clusters"].__setitem__(0, {"cluster": "Compute-A", "datastore_regex": "^(a|aa)*$"}),
                                  "spec.compute_clusters.0.datastore_regex"),
    "datastore regex with a back-reference": (
        lambda d: d["compute_clusters"].__setitem__(0, {"cluster": "Compute-A", "datastore_regex": r"^(a+)\1$"}),
        "spec.compute_clusters.0.datastore_regex"),
    "accepted regex .*.*.*.*x matched against the inventory (RE2)": (
        lambda d: d["compute_clusters"].__setitem__(0, {"cluster": "Compute-A", "datastore_regex": ".*.*.*.*zzz"}),
        "spec.compute_clusters.0.datastore_regex"),
    "range 0.0.0.0-255.255.255.255": (wide_range, "spec.management_network.ip_ranges.0"),
    "20,000 ranges": (many_ranges(20_000), "spec.management_network.ip_ranges"),
    "64 overlapping ranges": (overlapping_ranges, "spec.management_network.ip_ranges.63"),
    "4 DNS servers": (lambda d: d["management_network"].__setitem__("dns_servers", ["10.20.0.2"] * 4),
                      "spec.management_network.dns_servers"),
    "65 compute clusters": (lambda d: d.__setitem__("compute_clusters", [{"cluster": f"C{i}", "datastores": ["ds"]} for i in range(65)]),
                            "spec.compute_clusters"),
    "257 datastores of a cluster": (lambda d: d["compute_clusters"][0].__setitem__("datastores", [f"ds{i}" for i in range(257)]),
                                    "spec.compute_clusters.0.datastores"),
    "257 management datastores": (lambda d: d.__setitem__("management_datastores", [f"ds{i}" for i in range(257)]),
                                  "spec.management_datastores"),
    "a newline in a cluster name": (lambda d: d["compute_clusters"][0].__setitem__("cluster", "A\nhost_ip = 203.0.113.66"),
                                    "spec.compute_clusters.0.cluster"),
    "a 100,000-character name": (lambda d: d.__setitem__("datacenter", "x" * 100_000), "spec.datacenter"),
}


@pytest.mark.parametrize("case", SPEC_CASES)
def test_a_hostile_spec_is_refused_within_a_second(admin_client, vcsim, synced, case, capsys):
    change, field = SPEC_CASES[case]
    body = hostile(vcsim, change)
    response = timed(capsys, f"POST /api/v1/deployments/ {case}",
                     lambda: post_json(admin_client, "/api/v1/deployments/", body))
    assert field in fields(refused(response)), response.json()
    assert not Deployment.objects.exists()
    for action in ("validate", "plan"):  # the dry runs answer within the bound too (validate: 200, valid false)
        answer = timed(capsys, f"POST /api/v1/deployments/{action}/ {case}",
                       lambda: post_json(admin_client, f"/api/v1/deployments/{action}/", body))
        assert answer.status_code in (200, 400), answer.content[:300]
        if answer.status_code == 200 and action == "validate":
            assert answer.json()["valid"] is False


def test_the_wide_range_is_counted_by_arithmetic(vcsim, synced):
    """The address check that counted 2**32 addresses one by one: now the free count is exact and immediate."""
    from deployments.models import IpAllocation
    from deployments.spec import parse
    from deployments.spec.inventory_checks import address_issues

    data = valid_spec(vcsim)
    wide_range(data)
    spec, _ = parse(data)
    owner = Deployment.objects.create(name="other", vcenter=synced, spec={}, secrets="{}")
    IpAllocation.objects.bulk_create([IpAllocation(deployment=owner, vcenter=synced, portgroup="VIO-Management",
                                                   address=f"10.20.0.{i}", purpose=str(i)) for i in range(1, 101)])
    start = time.monotonic()
    assert address_issues(spec, synced) == []
    assert time.monotonic() - start < BOUND
    data["management_network"]["ip_ranges"] = [{"start": "10.20.0.1", "end": "10.20.0.110"}]
    issues = address_issues(parse(data)[0], synced)
    assert [i.code for i in issues] == ["addresses_in_use"] and "Only 10 addresses" in issues[0].message


# --- bodies and JSON, through the API -------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def template_body(vcsim, **document_changes) -> dict:
    spec = split_secrets(valid_spec(vcsim))[0]
    document = {"kind": "vio-manager/deployment-template", "schema_version": 1, "name": "lab", "spec": spec}
    document.update(document_changes)
    return {"template": document}


BODY_CASES = {
    "a 3 MB body": ("/api/v1/deployments/validate/", lambda vcsim: json.dumps({"spec": {"pad": "x" * 3_000_000}}), 413),
    "JSON nested 100,000 deep": ("/api/v1/deployments/validate/", lambda vcsim: '{"spec": ' + nested(100_000) + "}", 400),
    "JSON nested 500 deep": ("/api/v1/deployments/validate/", lambda vcsim: '{"spec": ' + nested(500) + "}", 400),
    "a 5,000-digit integer": ("/api/v1/deployments/validate/",
                              lambda vcsim: json.dumps(valid_spec(vcsim)).replace('"port": 514', '"port": ' + "9" * 5000), 400),
    "a 1e999 number": ("/api/v1/deployments/validate/", lambda vcsim: '{"spec": {"vcenter": {"port": 1e999}}}', 400),
    "NaN": ("/api/v1/deployments/validate/", lambda vcsim: '{"spec": {"vcenter": {"port": NaN}}}', 400),
    "a lone surrogate": ("/api/v1/deployments/validate/", lambda vcsim: '{"spec": {"name": "\\ud800"}}', 400),
    "a NUL": ("/api/v1/deployments/validate/", lambda vcsim: '{"spec": {"name": "a\\u0000"}}', 400),
    "template nested 500 deep": ("/api/v1/templates/",
                                 lambda vcsim: '{"template": {"spec": {"x": ' + nested(500) + "}}}", 400),
    "template with a 5,000-digit integer": (
        "/api/v1/templates/", lambda vcsim: json.dumps(template_body(vcsim)).replace('"port": 514', '"port": ' + "1" * 5000), 400),
    "template with 20,000 ranges": (
        "/api/v1/templates/", lambda vcsim: json.dumps(template_body(vcsim)).replace(
            '"ip_ranges": [', '"ip_ranges": [' + '{"start": "10.20.0.10", "end": "10.20.0.40"}, ' * 20_000, 1), 400),
    "template with the regex (.+)+X": (
        "/api/v1/templates/", lambda vcsim: json.dumps(template_body(vcsim)).replace(
            '"datastores": ["vio-compute-nfs"]', '"datastore_regex": "(.+)+X"', 1), 400),
    "template with a 10,000-character description": (
        "/api/v1/templates/", lambda vcsim: json.dumps({**template_body(vcsim), "description": "d" * 10_000}), 400),
    "template named with CR LF": (
        "/api/v1/templates/", lambda vcsim: json.dumps(template_body(vcsim, name="lab\r\nX-Injected: 1")), 400),
}


@pytest.mark.parametrize("case", BODY_CASES)
def test_a_hostile_body_is_refused_within_a_second(admin_client, vcsim, case, capsys):
    url, body, status = BODY_CASES[case]
    text = body(vcsim)
    response = timed(capsys, f"POST {url} {case}", lambda: post_json(admin_client, url, text))
    refused(response, status)
    assert not DeploymentTemplate.objects.exists()


def test_the_limits_are_stated_in_the_errors(admin_client, vcsim):
    body = refused(post_json(admin_client, "/api/v1/deployments/validate/", '{"spec": ' + nested(500) + "}"))
    assert "deeper than 32 levels" in body["message"]
    body = refused(post_json(admin_client, "/api/v1/deployments/validate/",
                             json.dumps(valid_spec(vcsim)).replace('"port": 514', '"port": ' + "9" * 5000)))
    assert "5000 digits" in body["message"]
    body = refused(post_json(admin_client, "/api/v1/deployments/validate/", json.dumps({"x": "y" * 3_000_000})), 413)
    assert body["code"] == "request_too_large" and "at most 2097152" in body["message"]
    body = refused(post_json(admin_client, "/api/v1/deployments/", hostile(vcsim, many_ranges(20_000))))
    error = next(e for e in body["errors"] if e["field"] == "spec.management_network.ip_ranges")
    assert error["message"] == "has 20000 entries; at most 64 are allowed. Remove some."


# --- the template upload form and the wizard's template-file step --------------------------------------


def upload(content: bytes, name: str = "template.json"):
    file = io.BytesIO(content)
    file.name = name
    return file


def document_bytes(vcsim, change=None) -> bytes:
    body = template_body(vcsim)
    if change:
        change(body["template"])
    return json.dumps(body["template"]).encode()


FILE_CASES = {
    "JSON nested 100,000 deep": (lambda vcsim: ('{"spec": ' + nested(100_000) + "}").encode(), "deeper than 32 levels"),
    "JSON nested 500 deep": (lambda vcsim: ('{"spec": ' + nested(500) + "}").encode(), "deeper than 32 levels"),
    "a 5,000-digit integer": (lambda vcsim: document_bytes(vcsim).replace(b'"port": 514', b'"port": ' + b"7" * 5000),
                              "5000 digits"),
    "a 2 MB file": (lambda vcsim: b'{"spec": {"pad": "' + b"x" * 2_000_000 + b'"}}', "too large"),
    "not UTF-8": (lambda vcsim: b'{"spec": "\xff"}', "not UTF-8"),
    "a lone surrogate": (lambda vcsim: b'{"name": "\\udc00", "spec": {}}', "lone surrogates"),
    "20,000 ranges": (lambda vcsim: document_bytes(vcsim, lambda d: d["spec"]["management_network"].__setitem__(
        "ip_ranges", [{"start": "10.20.0.10", "end": "10.20.0.40"}] * 20_000)), "at most 64 are allowed"),
    "the regex (.+)+X": (lambda vcsim: document_bytes(vcsim, lambda d: d["spec"]["compute_clusters"].__setitem__(
        0, {"cluster": "Compute-A", "datastore_regex": "(.+)+X"})), "exponential time"),
    "the range 0.0.0.0-255.255.255.255": (lambda vcsim: document_bytes(vcsim, lambda d: wide_range(d["spec"])),
                                          "includes the subnet&#x27;s network or broadcast address"),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_a_hostile_template_file_is_refused_within_a_second(admin_client, vcsim, case, capsys):
    content, shown = FILE_CASES[case]
    data = content(vcsim)
    response = timed(capsys, f"POST /templates/upload/ {case}",
                     lambda: admin_client.post("/templates/upload/", {"file": upload(data), "name": "lab"}))
    assert response.status_code == 200  # the form again, with the error
    assert shown in response.content.decode(), response.content.decode()[-2000:]
    assert not DeploymentTemplate.objects.exists()

    wizard = Wizard(admin_client)
    response = timed(capsys, f"POST wizard start (template file) {case}",
                     lambda: wizard.post("start", {"name": "cloud9", "source": "file"},
                                         files={"start-template_file": upload(data)}))
    assert response.status_code == 200
    assert shown.replace("&#x27;", "'") in " ".join(" ".join(e) for e in response.context["form"].errors.values())


def test_a_template_within_the_limits_is_still_imported(admin_client, vcsim):
    document = document_bytes(vcsim)
    response = admin_client.post("/templates/upload/", {"file": upload(document)})
    assert response.status_code == 302, response.content.decode()[-1500:]
    template = DeploymentTemplate.objects.get(name="lab")
    assert template.spec["compute_clusters"][0]["cluster"] == "Compute-A"
    again = copy.deepcopy(json.loads(document))
    again["name"] = "lab2"
    response = post_json(admin_client, "/api/v1/templates/", {"template": again})
    assert response.status_code == 201, response.content[:500]


# --- the arithmetic behind the checks ---------------------------------------------------------------------


def test_overlap_and_free_counts_are_sorted_sweeps_that_agree_with_pairwise_checks():
    import random
    from ipaddress import IPv4Address
    from types import SimpleNamespace

    from deployments.spec.addresses import address_count, cross_overlaps, free_in_ranges, overlapping_pairs

    def ranges(count, rng, width=40):
        out = []
        for _ in range(count):
            start = rng.randrange(5, 400)
            out.append(SimpleNamespace(start=IPv4Address(start), end=IPv4Address(start + rng.randrange(-3, width))))
        return out

    rng = random.Random(4)
    for _ in range(300):  # the sweeps find an overlap exactly where some pair overlaps
        a, b = ranges(rng.randrange(1, 12), rng), ranges(rng.randrange(1, 12), rng)
        valid = [i for i, r in enumerate(a) if r.end >= r.start]
        expected = {i for i in valid for j in valid if j != i and a[i].start <= a[j].end and a[j].start <= a[i].end}
        found = {i for pair in overlapping_pairs(a) for i in pair}
        assert found <= expected and (not expected) == (not found)
        for i, j in overlapping_pairs(a):
            assert a[i].start <= a[j].end and a[j].start <= a[i].end and i > j
        assert {i for i, _ in cross_overlaps(a, b)} == {
            i for i in valid for r in b if r.end >= r.start and a[i].start <= r.end and r.start <= a[i].end}
        addresses = {v for r in a for v in range(int(r.start), int(r.end) + 1)}
        taken = {str(IPv4Address(v)) for v in range(0, 450, 7)}
        assert address_count(a) == len(addresses)
        assert free_in_ranges(a, taken) == len(addresses - {int(IPv4Address(t)) for t in taken})

    many = [SimpleNamespace(start=IPv4Address(10 * i), end=IPv4Address(10 * i + 12)) for i in range(20_000)]
    start = time.monotonic()
    assert len(overlapping_pairs(many)) == 19_999 and len(cross_overlaps(many, many)) == 20_000
    whole = [SimpleNamespace(start=IPv4Address("0.0.0.0"), end=IPv4Address("255.255.255.255"))]
    assert free_in_ranges(whole, {"10.0.0.1", "10.0.0.2", "not an address"}) == 2**32 - 2
    assert time.monotonic() - start < BOUND
