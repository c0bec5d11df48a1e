"""Small real servers for tests: a plain HTTPS server that is not vCenter, and free ports."""

import datetime
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


# A name that fails to resolve without a packet leaving the machine: a .invalid name alone would still
# be sent to the configured DNS server. At 255 characters it exceeds DNS's wire limit, so the system
# resolver refuses it locally (checked with strace), yet it fits the 255-character host fields.
UNRESOLVABLE_HOST = (".".join(["vcenter-" + "x" * 54] * 4) + ".invalid")[-255:].lstrip(".-")


def self_signed(directory: Path, name: str = "web.example.test") -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _NotVCenter(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<html><body>An intranet page, not vCenter.</body></html>"
        self.send_response(404 if self.path.startswith("/sdk") else 200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def https_server():
    """An HTTPS web server on 127.0.0.1 that is not a vSphere endpoint."""
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp))
        server = ThreadingHTTPServer(("127.0.0.1", 0), _NotVCenter)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        server.port = server.server_address[1]
        yield server
        server.shutdown()
        server.server_close()


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
