"""Small real servers for tests: a plain HTTPS server that is not vCenter, its self-signed
certificate, and a host name that never resolves."""

import datetime
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# A name that fails to resolve without a packet leaving the machine: a .invalid name alone would still
# be sent to the configured DNS server. At 255 characters it exceeds DNS's wire limit, so the system
# resolver refuses it locally (checked with strace), yet it fits the 255-character host fields.
UNRESOLVABLE_HOST = (".".join(["vcenter-" + "x" * 54] * 4) + ".invalid")[-255:].lstrip(".-")


def self_signed(directory: Path, name: str = "web.example.test") -> tuple[Path, Path]:
    """A self-signed certificate and its key for `name`, written as cert.pem and key.pem."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
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


class NotVCenterServer(ThreadingHTTPServer):
    """An HTTPS web server on 127.0.0.1 (a self-signed certificate; its port: .port) that is not
    a vSphere endpoint, serving in a thread until stop()."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _NotVCenter)
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = self_signed(Path(tmp))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
