"""Downloading the appliance OVA from a URL a user gave (inventory/clients/download.py).

The servers here are fakes on 127.0.0.1, named fake_…: each plays a hostile or broken web server (an
endless body, gzip on the wire, redirects to the cloud metadata address or to another address of this
machine, a 404 before it is fixed, a body that stops half way, a server that never answers, a 24 MiB
descriptor), which no well-behaved test server would do. Then: the spec refuses such URLs when it is
written (through the API), and a URL's user name and password appear in no error and no event of a run.
"""

import base64
import gzip
import hashlib
import io
import json
import socket
import ssl
import tarfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from inventory.clients import download
from inventory.clients.download import DownloadError, Limits, fetch, fetch_cached, parse_networks
from inventory.clients.vsphere_ova import MAX_DESCRIPTOR_BYTES, OvaFormatError, read_ova
from testkit.spec import valid_spec

LOOPBACK_ONE = parse_networks(["127.0.0.1/32"])  # an administrator's allowance: 127.0.0.1 only
USER, PASSWORD = "ova-user", "Canary-Pass-7319"
DESCRIPTOR = b'<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>'


def small_ova(disk: bytes = b"disk" * 256) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in (("vio.ovf", DESCRIPTOR), ("vio-disk1.vmdk", disk)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def limits(**changes) -> Limits:
    return Limits(**{"max_bytes": 64 << 20, "allowed": LOOPBACK_ONE, "connect_timeout": 2, "read_timeout": 2,
                     **changes})


# --- the fake servers ------------------------------------------------------------------------------------


class FakeServer:
    """A web server on `host` whose every GET is answered by `answer(handler, number)` (number: 1, 2, …);
    it records each request's path and headers, and how many body bytes it managed to send."""

    def __init__(self, answer, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None):
        self.requests, self.sent = [], 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                fake.requests.append({"path": self.path, "headers": dict(self.headers)})
                answer(self, len(fake.requests))

            def send(self, data: bytes) -> None:
                self.wfile.write(data)
                fake.sent += len(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.host, self.port = host, self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str = "/vio.ova", *, credentials: bool = False, scheme: str = "http", host: str = "") -> str:
        userinfo = f"{USER}:{PASSWORD}@" if credentials else ""
        return f"{scheme}://{userinfo}{host or self.host}:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_server():
    """Start fake servers (answer, host=…); all are stopped after the test."""
    started = []

    def start(answer, **options) -> FakeServer:
        started.append(FakeServer(answer, **options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def reply(handler, status: int, body: bytes = b"", **headers) -> None:
    handler.send_response(status)
    headers.setdefault("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    if body:
        handler.send(body)


def fake_file(data: bytes):
    """Answers every GET with data, as a plain file server would."""
    return lambda handler, number: reply(handler, 200, data, Content_Type="application/octet-stream")


def fake_endless(handler, number):
    """200 and a body that never ends (no Content-Length): only the client's limit stops it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/octet-stream")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"\0" * 65536
    try:
        while True:
            handler.send(chunk)
    except OSError:  # the client hung up: what a limit looks like from here
        handler.close_connection = True


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


# --- limits and bytes as sent ---------------------------------------------------------------------------


def test_an_endless_response_is_stopped_at_the_limit_and_nothing_is_kept(fake_server, tmp_path):
    server = fake_server(fake_endless)
    started = time.monotonic()
    with pytest.raises(DownloadError) as refused:
        fetch(server.url(), tmp_path / "cache", limits(max_bytes=4 << 20))
    assert refused.value.code == "too_large" and "larger than 4 MiB" in refused.value.message
    assert time.monotonic() - started < 10
    assert server.sent < 64 << 20  # the client stopped reading: what was sent is the limit plus socket buffers
    assert files_in(tmp_path / "cache") == []  # no partial file left


def test_a_content_length_above_the_limit_is_refused_before_the_body_is_read(fake_server, tmp_path):
    announced = {"n": 0}

    def fake_liar(handler, number):  # announces 1 TiB, then would send it
        announced["n"] += 1
        handler.send_response(200)
        handler.send_header("Content-Length", str(1 << 40))
        handler.end_headers()
        try:
            for _ in range(1024):
                handler.send(b"\0" * 65536)
        except OSError:
            pass

    server = fake_server(fake_liar)
    with pytest.raises(DownloadError) as refused:
        fetch(server.url(), tmp_path / "cache", limits(max_bytes=1 << 20))
    assert refused.value.code == "too_large" and "(1024 GiB)" in refused.value.message
    assert files_in(tmp_path / "cache") == []


def test_a_gzip_encoded_body_is_stored_as_sent(fake_server, tmp_path):
    """2 MiB of zeros compress to a few KiB: decoded on the fly they would pass the 1 MiB limit."""
    wire = gzip.compress(b"\0" * (2 << 20))
    server = fake_server(lambda handler, number: reply(handler, 200, wire, Content_Encoding="gzip",
                                                       Content_Type="application/octet-stream"))
    fetched = fetch(server.url(), tmp_path / "cache", limits(max_bytes=1 << 20))
    assert fetched.path.read_bytes() == wire and fetched.size == len(wire)
    assert fetched.sha256 == hashlib.sha256(wire).hexdigest() and fetched.path.name == f"{fetched.sha256}.ova"
    assert server.requests[0]["headers"]["Accept-Encoding"] == "identity"


def test_a_server_that_never_answers_or_stalls_meets_the_read_timeout(fake_server, tmp_path):
    def fake_silent(handler, number):
        time.sleep(3)

    def fake_stalling(handler, number):
        handler.send_response(200)
        handler.send_header("Content-Length", "1000")
        handler.end_headers()
        handler.send(b"x" * 10)
        handler.wfile.flush()
        time.sleep(3)

    for answer, code in ((fake_silent, "timeout"), (fake_stalling, "timeout")):
        server = fake_server(answer)
        started = time.monotonic()
        with pytest.raises(DownloadError) as failed:
            fetch(server.url(), tmp_path / "cache", limits(read_timeout=0.5))
        assert failed.value.code == code and time.monotonic() - started < 2.5, failed.value.message
    assert files_in(tmp_path / "cache") == []


# --- addresses and redirects ----------------------------------------------------------------------------


def test_loopback_and_private_addresses_are_refused_unless_allowed(fake_server, tmp_path):
    server = fake_server(fake_file(small_ova()))
    for allowed in ((), parse_networks(["10.0.0.0/8", "127.0.0.2/32"])):
        with pytest.raises(DownloadError) as refused:
            fetch(server.url(), tmp_path, limits(allowed=allowed))
        assert refused.value.code == "address_refused" and "a loopback address" in refused.value.message
    assert server.requests == []  # refused before connecting
    assert fetch(server.url(), tmp_path, limits(allowed=parse_networks(["127.0.0.0/8"]))).size == len(small_ova())
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "http:///no-host"):
        with pytest.raises(DownloadError) as refused:
            fetch(url, tmp_path, limits())
        assert refused.value.code == "invalid_url"


def test_a_redirect_to_the_metadata_address_or_an_address_not_allowed_is_refused(fake_server, tmp_path):
    ova = small_ova()
    other = fake_server(fake_file(ova), host="127.0.0.2")  # another address of this machine
    targets = {"/metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
               "/other": other.url(), "/file": "file:///etc/passwd", "/relative": "/vio.ova"}

    def fake_redirecting(handler, number):
        if handler.path in targets:
            reply(handler, 302, Location=targets[handler.path])
        else:
            reply(handler, 200, ova)

    server = fake_server(fake_redirecting)
    with pytest.raises(DownloadError) as refused:
        fetch(server.url("/metadata"), tmp_path, limits())
    assert refused.value.code == "address_refused" and "169.254.169.254" in refused.value.message
    assert "link-local" in refused.value.message
    with pytest.raises(DownloadError) as refused:
        fetch(server.url("/other"), tmp_path, limits())  # 127.0.0.1 allowed, 127.0.0.2 not
    assert refused.value.code == "address_refused" and "127.0.0.2" in refused.value.message
    assert other.requests == []
    with pytest.raises(DownloadError) as refused:
        fetch(server.url("/file"), tmp_path, limits())
    assert refused.value.code == "invalid_url"
    # The same redirects are followed where the administrator allows the address.
    assert fetch(server.url("/relative"), tmp_path, limits()).size == len(ova)
    assert fetch(server.url("/other"), tmp_path, limits(allowed=parse_networks(["127.0.0.0/8"]))).size == len(ova)
    assert len(other.requests) == 1


def test_redirects_are_bounded(fake_server, tmp_path):
    server = fake_server(lambda handler, number: reply(handler, 302, Location=f"/hop{number}"))
    with pytest.raises(DownloadError) as refused:
        fetch(server.url(), tmp_path, limits(max_redirects=3))
    assert refused.value.code == "too_many_redirects" and len(server.requests) == 4


def test_the_connection_goes_to_the_address_checked_not_to_a_second_answer(fake_server, tmp_path, monkeypatch):
    """DNS rebinding: the name is looked up once per hop, and the connection goes to that address."""
    ova = small_ova()
    checked = fake_server(fake_file(ova))
    # Same port, another address: where a second lookup of the name would send the connection.
    rebound = fake_server(fake_file(b"not this one"), host="127.0.0.2", port=checked.port)
    real, lookups = socket.getaddrinfo, []

    def fake_dns(host, port, *args, **kwargs):  # the first answer allowed, every later one another address
        if host == "ova.example.test":
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    fetched = fetch(checked.url(host="ova.example.test"), tmp_path, limits())
    assert fetched.path.read_bytes() == ova and lookups == ["ova.example.test"]
    assert checked.requests[0]["headers"]["Host"] == f"ova.example.test:{checked.port}" and rebound.requests == []


def certificate_for(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate naming `name` (subjectAltName, as TLS clients require) and its key."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_verifies_the_host_name_while_connecting_to_the_checked_address(fake_server, tmp_path, monkeypatch):
    ova = small_ova()
    cert, key = certificate_for(tmp_path, "ova.example.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = fake_server(fake_file(ova), tls=context)
    real = socket.getaddrinfo

    def fake_dns(host, port, *args, **kwargs):
        if host in ("ova.example.test", "other.example.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    fetched = fetch(server.url(scheme="https", host="ova.example.test"), tmp_path, limits())
    assert fetched.path.read_bytes() == ova
    with pytest.raises(DownloadError) as refused:  # the certificate names another host
        fetch(server.url(scheme="https", host="other.example.test"), tmp_path, limits())
    assert refused.value.code == "tls"


# --- the cache --------------------------------------------------------------------------------------------


def test_a_failed_download_is_never_cached_so_a_retry_fetches_again(fake_server, tmp_path):
    ova = small_ova()

    def fake_flaky(handler, number):
        if number == 1:  # promises the whole OVA, sends half, hangs up
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(ova)))
            handler.end_headers()
            handler.send(ova[: len(ova) // 2])
            handler.close_connection = True
        elif number == 2:
            reply(handler, 404, b"not found")
        else:  # fixed
            reply(handler, 200, ova)

    server = fake_server(fake_flaky)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as failed:
        fetch_cached(server.url(), cache, limits())
    assert failed.value.code == "incomplete" and files_in(cache) == []
    with pytest.raises(DownloadError) as failed:
        fetch_cached(server.url(), cache, limits())
    assert failed.value.code == "http_error" and "HTTP 404" in failed.value.message and files_in(cache) == []
    fetched = fetch_cached(server.url(), cache, limits())
    assert fetched.path.read_bytes() == ova and not fetched.cached and len(server.requests) == 3
    again = fetch_cached(server.url(), cache, limits())
    assert again.cached and again.path == fetched.path and len(server.requests) == 3  # once complete, reused
    index = [p.name for p in (cache / "by-url").iterdir()]
    assert files_in(cache) == sorted([fetched.path.name, *index]) and len(index) == 1  # no partial file anywhere


def sparse_ova(path: Path, descriptor_size: int) -> Path:
    """An OVA whose descriptor is `descriptor_size` bytes of zeros, written sparse (no disk used)."""
    info = tarfile.TarInfo("huge.ovf")
    info.size = descriptor_size
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    with open(path, "wb") as out:
        out.write(header)
        out.truncate(len(header) + -(-descriptor_size // 512) * 512 + 1024)  # data, then two empty end blocks
    return path


def test_a_huge_descriptor_is_refused_without_reading_it_into_memory(fake_server, tmp_path):
    served = sparse_ova(tmp_path / "huge.ova", MAX_DESCRIPTOR_BYTES + (8 << 20))

    def fake_huge(handler, number):  # streams the file, as a web server would
        handler.send_response(200)
        handler.send_header("Content-Length", str(served.stat().st_size))
        handler.end_headers()
        with served.open("rb") as source:
            while chunk := source.read(1 << 20):
                handler.send(chunk)

    server = fake_server(fake_huge)
    tracemalloc.start()
    try:
        fetched = fetch(server.url(), tmp_path / "cache", limits())
        with pytest.raises(OvaFormatError) as refused:
            read_ova(fetched.path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "The descriptor huge.ovf" in str(refused.value) and "at most 16 MiB are read" in str(refused.value)
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB held while fetching and reading a 24 MiB descriptor"

    # 200 MiB, as in the review (918 MiB peak then), read straight from disk.
    tracemalloc.start()
    try:
        with pytest.raises(OvaFormatError):
            read_ova(sparse_ova(tmp_path / "bigger.ova", 200 << 20))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_a_descriptor_under_the_limit_is_read_in_full(tmp_path):
    path = tmp_path / "ok.ova"
    path.write_bytes(small_ova())
    assert read_ova(path).descriptor == DESCRIPTOR.decode()


# --- credentials in the URL ------------------------------------------------------------------------------


def assert_no_credentials(text: str) -> None:
    assert USER not in text and PASSWORD not in text, text
    assert base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode() not in text


def test_credentials_in_the_url_are_used_but_never_shown(fake_server, tmp_path, free_port):
    ova = small_ova()
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def fake_protected(handler, number):
        if handler.headers.get("Authorization") != expected:
            reply(handler, 401, b"who are you", WWW_Authenticate='Basic realm="ova"')
        elif handler.path == "/vio.ova":
            reply(handler, 200, ova)
        elif handler.path == "/big.ova":
            reply(handler, 200, b"\0" * 4096)
        elif handler.path == "/away":
            reply(handler, 302, Location="http://169.254.169.254/latest/")
        else:
            reply(handler, 404, b"no such file")

    server = fake_server(fake_protected)
    assert fetch(server.url(credentials=True), tmp_path, limits()).path.read_bytes() == ova  # they are sent

    failures = {
        "http_error": server.url("/missing.ova", credentials=True),
        "address_refused": server.url("/away", credentials=True),
        "too_large": server.url("/big.ova", credentials=True),
        "unreachable": f"http://{USER}:{PASSWORD}@127.0.0.1:{free_port}/vio.ova",
    }
    for code, url in failures.items():
        with pytest.raises(DownloadError) as failed:
            fetch(url, tmp_path, limits(max_bytes=1024))
        assert failed.value.code == code, failed.value.message
        assert_no_credentials(failed.value.message)
        assert "***@127.0.0.1" in failed.value.message, failed.value.message
    assert download.redact(f"https://{USER}:{PASSWORD}@example.com/a@b.ova") == "https://***@example.com/a@b.ova"

    # The engine step's error (what the run's events and the API show) carries the same words.
    from deployments.engine.executor import StepFailed
    from deployments.engine.steps.bringup import _appliance_file

    with pytest.raises(StepFailed) as failed:
        _appliance_file(SimpleNamespace(upload=None, url=failures["http_error"]))
    assert "HTTP 404" in str(failed.value)
    assert_no_credentials(str(failed.value))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_ova_url_fails_shows_no_credentials_in_its_events_or_errors(
        fake_server, vcsim_factory, celery_worker, admin_client):
    from deployments.choices import RunStatus
    from deployments.services import launch
    from testkit.runs import wait_for
    from testkit.spec import registered_vcenter

    server = fake_server(lambda handler, number: reply(handler, 404, b"gone"))
    fresh = vcsim_factory()
    registered_vcenter(fresh)
    data = valid_spec(fresh)
    data.update(name="creds1", topology="compact", appliance_ova={"url": server.url(credentials=True)})
    deployment = launch.create_deployment(data, acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    run = wait_for(deployment.runs.get())
    assert run.status == RunStatus.FAILED
    step = run.steps.get(key="import_ova")
    assert "HTTP 404" in step.error and "***@127.0.0.1" in step.error
    shown = [run.error, step.error, *run.events.values_list("message", flat=True)]
    for what in ("events", "runs", "runs/1", "status"):  # what viewers read through the API
        response = admin_client.get(f"/api/v1/deployments/{deployment.pk}/{what}/")
        assert response.status_code == 200, (what, response.status_code)
        shown.append(response.content.decode())
    assert any("HTTP 404" in text for text in shown[3:])
    assert_no_credentials(json.dumps(shown))


# --- the spec, when it is written -----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_spec_refuses_what_the_download_would_refuse(admin_client, settings):
    settings.VIO_OVA_ALLOWED_NETWORKS = []
    spec = valid_spec(SimpleNamespace(host="vc.example.test", port=443))

    def url_issues(url):
        spec["appliance_ova"] = {"url": url}
        body = admin_client.post("/api/v1/deployments/validate/", {"spec": spec},
                                 content_type="application/json").json()
        return [(i["code"], i["message"]) for i in body["issues"] if i["field"] == "spec.appliance_ova.url"]

    for url, words in [("http://169.254.169.254/latest/meta-data/", "a link-local address"),
                       ("http://127.0.0.1:5432/", "a loopback address"),
                       ("http://[::1]:8000/api/v1/", "a loopback address"),
                       ("http://2130706433/vio.ova", "Its host is 127.0.0.1"),
                       ("http://localhost:8000/", "a loopback address"),
                       ("https://10.1.2.3/vio.ova", "a private address"),
                       ("http://0.0.0.0:8000/", "the unspecified address")]:
        issues = url_issues(url)
        assert [code for code, _ in issues] == ["url_refused"], (url, issues)
        assert words in issues[0][1] and "VIO_OVA_ALLOWED_NETWORKS" in issues[0][1], (url, issues)
    assert [code for code, _ in url_issues("ftp://downloads.example.com/vio.ova")] == ["string_pattern_mismatch"]
    assert [code for code, _ in url_issues("http://downloads.example.com:99999/vio.ova")] == ["url_refused"]
    assert url_issues("https://downloads.example.com/vio.ova") == []  # names are checked when downloading
    credentials = url_issues(f"http://{USER}:{PASSWORD}@169.254.169.254/")
    assert credentials and all(PASSWORD not in message for _, message in credentials)

    settings.VIO_OVA_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert url_issues("https://10.1.2.3/vio.ova") == []
    spec["appliance_ova"] = {"url": "http://169.254.169.254/latest/"}
    created = admin_client.post("/api/v1/deployments/", {"spec": spec}, content_type="application/json")
    assert created.status_code == 400 and created.json()["errors"][0]["field"] == "spec.appliance_ova.url"
