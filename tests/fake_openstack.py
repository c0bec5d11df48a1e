"""FakeOpenStackApi: the few Keystone v3, Nova v2.1 and Neutron v2.0 resources openstacksdk reads to get a
token, list hypervisors and nova-compute services, and Neutron's agents, served on 127.0.0.1 (plain HTTP, or
HTTPS with a certificate for 127.0.0.1). A test changes `services`, `agents` and `failing` (paths that answer
503) to make a cloud sick. For tests only."""

import datetime
import ipaddress
import json
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

COMPUTE = "/compute"  # Nova's root on this server (kolla serves it on its own port)
NETWORK = "/network"  # Neutron's


class FakeOpenStackApi:
    def __init__(self, *, username="admin", password="Secret-Admin-1", project="admin", hypervisors=(),
                 tls_directory: Path | None = None):
        self.username, self.password, self.project = username, password, project
        self.hypervisors = list(hypervisors)
        # one nova-compute per hypervisor, on the host its hypervisor names; Neutron's agents of a DVS cloud
        self.services = [{"host": f"compute-{index}", "state": "up", "status": "enabled", "disabled_reason": None}
                         for index in range(len(self.hypervisors))]
        self.agents = [{"binary": binary, "agent_type": kind, "host": "controller-01", "alive": True,
                        "admin_state_up": True} for binary, kind in (("neutron-dhcp-agent", "DHCP agent"),
                                                                     ("neutron-metadata-agent", "Metadata agent"))]
        self.failing: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.tokens: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.ca_path = None
        if tls_directory is not None:
            self.ca_path = self._serve_tls(Path(tls_directory))
        self.port = self.server.server_address[1]
        self.base = f"{'https' if self.ca_path else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _serve_tls(self, directory: Path) -> Path:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                .sign(key, hashes.SHA256()))
        cert_path, key_path = directory / "fake-openstack.crt", directory / "fake-openstack.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        return cert_path

    # --- documents ----------------------------------------------------------------------------------------

    def _keystone_version(self) -> dict:
        return {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": f"{self.base}/v3/"}],
                "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}

    def _nova_version(self) -> dict:
        return {"id": "v2.1", "status": "CURRENT", "version": "2.96", "min_version": "2.1",
                "updated": "2013-07-23T11:33:21Z", "links": [{"rel": "self", "href": f"{self.base}{COMPUTE}/v2.1/"}]}

    def _token(self, body: dict) -> tuple[int, dict, dict]:
        identity = body.get("auth", {}).get("identity", {})
        user = identity.get("password", {}).get("user", {})
        project = body.get("auth", {}).get("scope", {}).get("project", {})
        if (user.get("name"), user.get("password"), project.get("name")) != (self.username, self.password, self.project):
            return 401, {"error": {"code": 401, "title": "Unauthorized",
                                   "message": "The request you have made requires authentication."}}, {}
        token = uuid.uuid4().hex
        self.tokens.add(token)
        now = datetime.datetime.now(datetime.timezone.utc)
        domain = {"id": "default", "name": "Default"}

        def endpoint(url):
            return [{"id": uuid.uuid4().hex, "interface": interface, "region": "RegionOne", "region_id": "RegionOne",
                     "url": url} for interface in ("public", "internal", "admin")]

        return 201, {"token": {
            "methods": ["password"], "issued_at": now.isoformat(), "audit_ids": [uuid.uuid4().hex],
            "expires_at": (now + datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "user": {"id": "u-admin", "name": self.username, "domain": domain, "password_expires_at": None},
            "project": {"id": "p-admin", "name": self.project, "domain": domain},
            "roles": [{"id": "r-admin", "name": "admin"}], "is_domain": False,
            "catalog": [
                {"id": "s-keystone", "type": "identity", "name": "keystone", "endpoints": endpoint(f"{self.base}/v3")},
                {"id": "s-nova", "type": "compute", "name": "nova", "endpoints": endpoint(f"{self.base}{COMPUTE}/v2.1")},
                {"id": "s-neutron", "type": "network", "name": "neutron", "endpoints": endpoint(f"{self.base}{NETWORK}")},
            ]}}, {"X-Subject-Token": token}

    def _hypervisors(self) -> dict:
        return {"hypervisors": [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "hypervisor_hostname": name, "state": "up",
             "status": "enabled", "hypervisor_type": "VMware vCenter Server", "hypervisor_version": 8000000,
             "host_ip": "10.20.0.30", "service": {"host": f"compute-{index}", "id": str(uuid.uuid4()),
                                                  "disabled_reason": None}}
            for index, name in enumerate(self.hypervisors)]}

    def _services(self) -> dict:
        return {"services": [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, s["host"])), "binary": "nova-compute", "zone": "nova",
             "updated_at": "2026-12-05T03:00:00.000000", "forced_down": False, **s} for s in self.services]}

    def _agents(self) -> dict:
        return {"agents": [
            {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, a["host"] + a["binary"])), "topic": "dhcp_agent",
             "heartbeat_timestamp": "2026-12-05 03:00:00", "configurations": {}, **a} for a in self.agents]}

    # --- HTTP ---------------------------------------------------------------------------------------------

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: dict, headers: dict | None = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if self.headers.get("X-Auth-Token") in api.tokens:
                    return True
                self._send(401, {"error": {"code": 401, "title": "Unauthorized", "message": "no valid token"}})
                return False

            def do_GET(self):
                path = self.path.split("?", 1)[0].rstrip("/")
                api.requests.append(("GET", self.path))
                if any(path == p or path.startswith(p + "/") for p in api.failing):
                    return self._send(503, {"error": {"code": 503, "message": "Service Unavailable"}})
                if path in ("", "/v3"):
                    if path == "":
                        return self._send(300, {"versions": {"values": [api._keystone_version()]}})
                    return self._send(200, {"version": api._keystone_version()})
                if path == COMPUTE:
                    return self._send(200, {"versions": [api._nova_version()]})
                if path == f"{COMPUTE}/v2.1":
                    return self._send(200, {"version": api._nova_version()})
                if path == f"{COMPUTE}/v2.1/os-hypervisors/detail":
                    return self._authorized() and self._send(200, api._hypervisors())
                if path == f"{COMPUTE}/v2.1/os-services":
                    return self._authorized() and self._send(200, api._services())
                if path == NETWORK:
                    return self._send(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                        {"rel": "self", "href": f"{api.base}{NETWORK}/v2.0/"}]}]})
                if path == f"{NETWORK}/v2.0/agents":
                    return self._authorized() and self._send(200, api._agents())
                self._send(404, {"error": {"code": 404, "message": f"no {path} here"}})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                api.requests.append(("POST", self.path))
                if self.path.rstrip("/") == "/v3/auth/tokens":
                    status, document, headers = api._token(body)
                    return self._send(status, document, headers)
                self._send(404, {"error": {"code": 404, "message": "not here"}})

            def log_message(self, *args):
                pass

        return Handler
