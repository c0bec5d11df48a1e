"""The NSX-v Manager client against the emulator, itself built from a real vCenter simulator."""

import logging
import socket
from datetime import datetime, timedelta, timezone

import pytest
import requests
from pyVmomi import vim

from inventory.clients.errors import (
    CertificateChanged,
    DnsFailure,
    HostUnreachable,
    InvalidCredentials,
    NotAnNsxManager,
    NsxApiError,
    NsxPermissionDenied,
    NsxUnsafeXml,
    UnsupportedNsxVersion,
)
from inventory.clients.nsx import NsxClient, _parse_nsx_error
from inventory.clients.vsphere import collect


@pytest.fixture
def client(nsxv):
    with nsxv.client() as nsx:
        yield nsx


@pytest.fixture(scope="module")
def vcenter_facts(vcsim):
    """What the emulator should have taken from vCenter, read independently with pyvmomi."""
    from inventory.clients.vsphere import disconnect

    si = vcsim.connect()
    try:
        clusters = {row["name"]: row["_obj"]._moId for row in collect(si, vim.ClusterComputeResource, ["name"])}
        switches = [(row["_obj"]._moId, row["name"]) for row in collect(si, vim.DistributedVirtualSwitch, ["name"])]
        datacenter = collect(si, vim.Datacenter, ["name"])[0]["_obj"]._moId
    finally:
        disconnect(si)
    return {"clusters": clusters, "switches": switches, "datacenter": datacenter}


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- reads ---------------------------------------------------------------------------------------


def test_version(client):
    version = client.version()
    assert version.number == "6.4.5" and (version.major, version.minor, version.patch) == (6, 4, 5)
    assert version.build > 0 and str(version) == f"6.4.5 (build {version.build})"
    assert version.at_least((6, 1, 2)) and version.at_least((6, 4)) and not version.at_least((6, 4, 6))
    assert client.require_supported_version() == version


def test_version_below_6_1_2_is_detected(nsxv_factory):
    old = nsxv_factory("--version", "6.1.0", "--edges", "0")
    with old.client() as nsx:
        version = nsx.version()
        assert version.number == "6.1.0" and not version.at_least((6, 1, 2)) and not version.supported
        with pytest.raises(UnsupportedNsxVersion) as caught:
            nsx.require_supported_version()
        assert "6.1.2 or later" in str(caught.value)
        old.set_version("6.1.2")
        assert nsx.version().supported


def test_transport_zone_spans_the_compute_and_edge_clusters(client, vcenter_facts):
    (zone,) = client.transport_zones()
    assert (zone.id, zone.name, zone.control_plane_mode, zone.is_universal) == (
        "vdnscope-1",
        "VIO-TZ",
        "UNICAST_MODE",
        False,
    )
    clusters = vcenter_facts["clusters"]
    assert set(zone.cluster_moids) == {clusters["Compute-A"], clusters["Compute-B"], clusters["Edge"]}
    assert clusters["Management"] not in zone.cluster_moids


def test_edges_come_from_every_page(nsxv, client, vcenter_facts):
    logged_before = len(nsxv.running.stderr_lines)
    edges = client.edges(page_size=3)
    assert [e.id for e in edges] == [f"edge-{n}" for n in range(1, 8)]
    requests_made = [line for line in nsxv.running.stderr_lines[logged_before:] if "/api/4.0/edges" in line]
    assert [("startIndex=0" in r, "startIndex=3" in r, "startIndex=6" in r) for r in requests_made] == [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]
    assert {e.type for e in edges} == {"gatewayServices", "distributedRouter"}
    assert [e.type for e in edges].count("distributedRouter") == 2
    assert {(e.state, e.status, e.datacenter_moid, e.appliance_version) for e in edges} == {
        ("deployed", "GREEN", vcenter_facts["datacenter"], "6.4.5")
    }
    assert client.edges() == edges  # one page of NSX's default size


def test_controllers(client):
    controllers = client.controllers()
    assert [c.id for c in controllers] == ["controller-1", "controller-2", "controller-3"]
    assert all(c.running for c in controllers) and {c.status for c in controllers} == {"RUNNING"}


def test_vds_context_is_the_vcenter_switch(client, vcenter_facts):
    contexts = client.vds_contexts()
    assert [(c.switch_moid, c.name) for c in contexts] == vcenter_facts["switches"]
    assert {(c.mtu, c.teaming, c.datacenter_moid) for c in contexts} == {
        (1600, "FAILOVER_ORDER", vcenter_facts["datacenter"])
    }


def test_fabric_status_per_cluster(client, vcenter_facts):
    clusters = vcenter_facts["clusters"]
    for name in ("Compute-A", "Compute-B", "Edge"):
        features = client.fabric_status(clusters[name])
        assert set(features) == {"hostPrep", "vxlan", "messagingInfra"}
        assert all(f.status == "GREEN" and f.installed for f in features.values()), name
    management = client.fabric_status(clusters["Management"])
    assert not any(f.installed for f in management.values())
    with pytest.raises(NsxApiError) as caught:
        client.fabric_status("domain-c999")
    assert (caught.value.status, caught.value.error_code) == (400, 202)
    assert "domain-c999" in caught.value.details and "domain-c999" in str(caught.value)


def test_vcenter_registration(client, vcsim):
    registration = client.vcenter_registration()
    assert (registration.host, registration.user, registration.thumbprint) == (
        vcsim.host,
        vcsim.username,
        vcsim.fingerprint,
    )
    assert registration.connected
    assert datetime.now(timezone.utc) - timedelta(hours=2) < registration.last_sync <= datetime.now(timezone.utc)


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("username,password", [("admin", "wrong-password"), ("auditor", None)])
@pytest.mark.parametrize("read", ["transport_zones", "version"])
def test_wrong_credentials(nsxv, username, password, read):
    """NSX-v refuses them with a bodiless 403 (the emulator does too): the client says what it means."""
    logged_before = len(nsxv.running.stderr_lines)
    with nsxv.client(username=username, password=password or nsxv.password) as nsx:
        with pytest.raises(InvalidCredentials) as caught:
            getattr(nsx, read)()
    assert '" 403 ' in "".join(nsxv.running.stderr_lines[logged_before:])
    message = str(caught.value)
    assert "wrong user name or password" in message and f"'{username}'" in message
    assert nsxv.password not in message and "wrong-password" not in message


def test_a_401_is_wrong_credentials_too(nsxv_faults, client):
    """NSX answers 401 for a missing Authorization header or an expired token."""
    nsxv_faults.inject(path="/api/2.0/vdn/controller", status=401, error_code=100, message="token expired")
    with pytest.raises(InvalidCredentials, match="wrong user name or password"):
        client.controllers()


def test_a_403_with_an_nsx_error_is_a_missing_permission(nsxv_faults, client):
    """NSX's own refusal of an operation carries its <error> with an errorCode: not a credentials problem."""
    nsxv_faults.inject(
        path="/api/2.0/vdn/switches",
        status=403,
        error_code=229,
        module="core-services",
        message="User 'admin' does not have the privileges to access this object.",
    )
    with pytest.raises(NsxApiError) as caught:
        client.vds_contexts()
    assert not isinstance(caught.value, InvalidCredentials)
    assert (caught.value.status, caught.value.error_code) == (403, 229)
    assert "lacks the permission" in str(caught.value) and "wrong user name" not in str(caught.value)


def test_a_bodiless_403_from_the_appliance_api_with_good_credentials_is_a_permission(nsxv_faults, client):
    """The appliance-management API refuses valid vCenter (SSO) users with an empty 403; one probe tells."""
    nsxv_faults.inject(path="/api/1.0/appliance-management/global/info", status=403, body="empty")
    logged_before = len(nsxv_faults.running.stderr_lines)
    with pytest.raises(NsxPermissionDenied) as caught:
        client.version()
    assert "admin account" in str(caught.value) and "'admin'" in str(caught.value)
    probes = [line for line in nsxv_faults.running.stderr_lines[logged_before:] if "/api/2.0/vdn/scopes" in line]
    assert len(probes) == 1 and '" 200 ' in probes[0]


def test_wrong_fingerprint_is_refused_before_any_request(nsxv):
    logged_before = len(nsxv.running.stderr_lines)
    with pytest.raises(CertificateChanged) as caught:
        nsxv.client(fingerprint=":".join(["AB"] * 32)).version()
    assert caught.value.presented == nsxv.fingerprint
    assert nsxv.running.stderr_lines[logged_before:] == []  # no HTTP request, so no credentials sent


def test_unreachable_port(nsxv):
    with pytest.raises(HostUnreachable):
        nsxv.client(port=free_loopback_port()).version()


def test_name_that_cannot_be_a_host_name_is_refused_before_any_lookup(nsxv):
    # A .invalid name would still send a query to the configured DNS server, off this machine. This
    # one is longer than DNS's limit: refused in words before anything is asked of DNS.
    unresolvable = ".".join(["nsx-manager-" + "x" * 48] * 5) + ".invalid"
    with pytest.raises(DnsFailure) as caught:
        nsxv.client(host=unresolvable).version()
    assert "is not a valid host name: it is 312 characters long; a host name has at most 253" in str(caught.value)


def test_name_that_does_not_resolve(nsxv, monkeypatch):
    # The resolver's answer for a well-formed name that has no address, at the seam (socket.getaddrinfo):
    # a real lookup would leave this machine.
    import socket

    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(DnsFailure) as caught:
        nsxv.client(host="nsx-gone.example.com").version()
    assert "does not resolve" in str(caught.value)


def test_a_vcenter_is_not_an_nsx_manager(vcsim):
    with NsxClient(vcsim.host, vcsim.port, "admin", "secret-password", vcsim.fingerprint) as nsx:
        with pytest.raises(NotAnNsxManager) as caught:
            nsx.version()
    assert "not vCenter" in str(caught.value) and "secret-password" not in str(caught.value)


def test_injected_server_error_carries_nsx_details(nsxv_faults, client):
    nsxv_faults.inject(
        path="/api/4.0/edges",
        status=500,
        error_code=10003,
        module="vShield Edge",
        message="Failed to publish configuration on edge-2",
    )
    with pytest.raises(NsxApiError) as caught:
        client.edges()
    error = caught.value
    assert (error.status, error.error_code, error.module) == (500, 10003, "vShield Edge")
    assert error.details == "Failed to publish configuration on edge-2"
    message = str(error)
    assert message.startswith("Reading NSX Edges from NSX Manager") and "Failed to publish" in message
    assert "retry" in message and nsxv_faults.password not in message


def test_slow_manager_times_out(nsxv_faults):
    nsxv_faults.inject(path="/api/1.0/appliance-management/global/info", delay=1500)
    with nsxv_faults.client(timeout=0.5) as nsx:
        with pytest.raises(HostUnreachable) as caught:
            nsx.version()
    assert "did not answer within 0.5 s" in str(caught.value)


# --- XML safety -----------------------------------------------------------------------------------


def test_xml_with_a_dtd_and_entities_is_refused(nsxv_faults, client):
    """The emulator's fault endpoint sends a document with a DTD, nested entities and an external entity."""
    nsxv_faults.inject(path="/api/2.0/vdn/scopes", body="dtd", root="vdnScopes")
    with pytest.raises(NsxUnsafeXml) as caught:
        client.transport_zones()
    message = str(caught.value)
    assert "DTD" in message and "refused" in message and "injected" not in message
    assert caught.value.code == "nsx_unsafe_xml" and isinstance(caught.value, NotAnNsxManager)
    # In an error body too, which is parsed for NSX's errorCode.
    nsxv_faults.inject(path="/api/4.0/edges", status=500, body="dtd")
    with pytest.raises(NsxUnsafeXml):
        client.edges()
    assert [z.id for z in client.transport_zones()] == ["vdnscope-1"]  # the rules were used up


def test_a_doctype_in_text_is_data_not_a_refusal(nsxv_faults, client):
    """Only a real DTD is refused (the parser decides, not a byte search): escaped text saying <!DOCTYPE is read."""
    nsxv_faults.inject(path="/api/4.0/edges", status=503, error_code=10003, message="proxy said <!DOCTYPE html>")
    with pytest.raises(NsxApiError) as caught:
        client.edges()
    assert (caught.value.error_code, caught.value.details) == (10003, "proxy said <!DOCTYPE html>")


def test_json_error_bodies_are_parsed_too(nsxv):
    """NSX answers JSON errors to JSON clients; the same parser reads them (real response from the emulator)."""
    session = requests.Session()
    session.trust_env = False
    with nsxv.client() as nsx:
        nsx._connect()
        session.mount("https://", nsx._session.get_adapter(nsxv.url))
        response = session.get(
            f"{nsxv.url}/api/4.0/edges/edge-404",
            auth=(nsxv.username, nsxv.password),
            headers={"Accept": "application/json"},
            timeout=10,
        )
    assert response.headers["Content-Type"].startswith("application/json")
    code, module, details = _parse_nsx_error(response)
    assert (code, module) == (202, "core-services") and "edge-404" in details


# --- TLS pinning and secrets -----------------------------------------------------------------------


def test_the_pin_stays_the_only_trust_anchor(client, nsxv):
    client.version()
    context = client._session.get_adapter(nsxv.url)._ssl_context
    # requests would otherwise load its CA bundle (about 150 CAs) into this context on the first request.
    assert context.cert_store_stats()["x509"] == 1


def test_a_certificate_naming_another_host_is_accepted_when_pinned(nsxv_factory, tmp_path):
    """The pin is the identity: NSX certificates often name a host other than the address typed."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nsxmgr-01.corp.example")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("nsxmgr-01.corp.example")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "other.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "other.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    emulator = nsxv_factory("--cert", str(tmp_path / "other.crt"), "--key", str(tmp_path / "other.key"), "--edges", "1")
    with emulator.client() as nsx:
        assert nsx.version().number == "6.4.5"


def test_a_different_certificate_later_is_refused_by_the_handshake(nsxv_factory):
    """Another server on the pinned address (same host, port and names) fails TLS itself."""
    first = nsxv_factory("--edges", "1")
    with first.client() as nsx:
        nsx.version()
        assert first.running.stop() == 0
        second = nsxv_factory("--edges", "1", "--listen", f"127.0.0.1:{first.port}")
        assert second.fingerprint != first.fingerprint
        with pytest.raises(CertificateChanged) as caught:
            nsx.version()
    assert (caught.value.accepted, caught.value.presented) == (first.fingerprint, second.fingerprint)


def test_no_password_in_logs(nsxv, caplog):
    caplog.set_level(logging.DEBUG)
    with nsxv.client() as nsx:
        nsx.transport_zones()
    with nsxv.client(password="Wr0ng-Secret!") as nsx, pytest.raises(InvalidCredentials):
        nsx.version()
    assert caplog.records  # the client and urllib3 did log
    assert nsxv.password not in caplog.text and "Wr0ng-Secret!" not in caplog.text
