"""The HTTPS server: authentication, routing to the model, XML/JSON, faults and the control endpoint."""

import ipaddress
import json
import re
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from simulators.nsxv.auth import AuthenticationFailed, Authenticator
from simulators.nsxv.certificate import CertificateFiles
from simulators.nsxv.common import BAD_PARAMETER, DEFAULT_PAGE_SIZE, Version
from simulators.nsxv.faults import FaultRule, FaultRules, RuleError
from simulators.nsxv.model import NsxModel
from simulators.nsxv.render import JSON_TYPE, XML_TYPE, Document, NsxFault, to_json, to_xml, wants_json

# Error codes for failures the RAML does not number; the emulator's own, stable for tests.
AUTHENTICATION_FAILED, UNKNOWN_URL, METHOD_NOT_ALLOWED = 100, 101, 102
CONTROL_PREFIX = "/emulator/"
ERROR_PAGE_TYPE = "text/html;charset=utf-8"


def _int_param(query: dict, name: str, default: int) -> int:
    value = query.get(name.lower())
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise NsxFault(400, BAD_PARAMETER, f"Query parameter {name}={value!r} is not an integer.") from None


def _edges(model: NsxModel, match, query, user) -> Document:
    # startIndex/pageSize as documented; nsxramlclient sends them lower-case (keys are lower-cased).
    return model.edge_page(
        _int_param(query, "startIndex", 0),
        _int_param(query, "pageSize", DEFAULT_PAGE_SIZE),
        query.get("datacenter"),
        query.get("tenant"),
    )


def _token(model: NsxModel, match, query, user, auth: Authenticator) -> Document:
    minutes = _int_param(query, "expiresInMinutes", 90)
    if not 1 <= minutes <= 1440:
        raise NsxFault(400, BAD_PARAMETER, "expiresInMinutes must be within 1-1440.")
    return Document("authToken", {"value": auth.issue_token(user, minutes)})


ROUTES = [
    ("GET", r"/api/1.0/appliance-management/global/info", lambda m, g, q, u: m.global_info(u)),
    ("GET", r"/api/2.0/vdn/scopes", lambda m, g, q, u: m.scopes()),
    ("GET", r"/api/2.0/vdn/scopes/(?P<id>[^/]+)", lambda m, g, q, u: m.scope(g["id"])),
    ("GET", r"/api/4.0/edges", _edges),
    ("GET", r"/api/4.0/edges/(?P<id>edge-[^/]+)", lambda m, g, q, u: m.edge_detail(g["id"])),
    ("GET", r"/api/4.0/edges/(?P<id>edge-[^/]+)/summary", lambda m, g, q, u: m.edge_summary(g["id"])),
    ("GET", r"/api/4.0/edges/(?P<id>edge-[^/]+)/status", lambda m, g, q, u: m.edge_status(g["id"])),
    ("GET", r"/api/2.0/vdn/controller", lambda m, g, q, u: m.controllers()),
    ("GET", r"/api/2.0/vdn/switches", lambda m, g, q, u: m.switches()),
    ("GET", r"/api/2.0/nwfabric/status", lambda m, g, q, u: m.fabric_status(q.get("resource"))),
    ("GET", r"/api/2.0/services/vcconfig", lambda m, g, q, u: m.vcconfig()),
    ("GET", r"/api/2.0/services/vcconfig/status", lambda m, g, q, u: m.vcconfig_status()),
    ("GET", r"/api/2.0/services/vsmconfig", lambda m, g, q, u: m.vsmconfig()),
    ("GET", r"/api/2.0/services/usermgmt/scopingobjects", lambda m, g, q, u: m.scoping_objects()),
    # Datastore moids of the simulator contain "/", hence ".+".
    ("GET", r"/api/2.0/services/inventory/(?P<id>.+)/basicinfo", lambda m, g, q, u: m.basic_info(g["id"])),
    ("POST", r"/api/2.0/services/auth/token", None),  # needs the authenticator: handled in _dispatch
]
COMPILED_ROUTES = [(method, re.compile(pattern + r"\Z"), handler) for method, pattern, handler in ROUTES]


class NsxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients with a session pool expect
    server_version = "NSX-Manager-emulator"
    sys_version = ""
    timeout = 60  # drop idle keep-alive connections

    server: "NsxServer"

    def setup(self):
        super().setup()
        # The TLS handshake runs here, in the request's thread, so a slow client never blocks accept().
        self.connection.do_handshake()

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's signature)
        # Method, path and status only: never headers (Authorization) or bodies.
        sys.stderr.write(f"nsxv: {self.address_string()} {format % args}\n")

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")

    # --- plumbing ------------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str | None, headers: dict | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _send_document(self, status: int, document: Document, headers: dict | None = None) -> None:
        if document.json_only or wants_json(self.headers.get("Accept")):
            self._send(status, to_json(document), JSON_TYPE, headers)
        else:
            self._send(status, to_xml(document), XML_TYPE, headers)

    def _send_json(self, status: int, payload) -> None:
        self._send(
            status,
            json.dumps(payload).encode() if payload is not None else b"",
            JSON_TYPE if payload is not None else None,
        )

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # consume the body so the connection stays usable
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path).rstrip("/") or "/"
        query = {k.lower(): v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        if path.startswith(CONTROL_PREFIX.rstrip("/")):
            self._control(method, path, query)
            return
        rule = self.server.faults.take(method, path)
        if rule is not None:
            if rule.delay_ms:
                time.sleep(rule.delay_ms / 1000)
            if rule.status is not None and rule.body == "empty":
                self._send(rule.status, b"", ERROR_PAGE_TYPE)
                return
            if rule.body == "dtd":
                self._send(rule.status, rule.dtd_document(), XML_TYPE)
                return
            if rule.status is not None:
                self._send_document(
                    rule.status, NsxFault(rule.status, rule.error_code, rule.message, rule.module).document()
                )
                return
        try:
            user = self.server.auth.user_for(self.headers.get("Authorization"))
        except AuthenticationFailed as failed:
            self._refuse(failed.reason)
            return
        try:
            self._send_document(200, self._dispatch(method, path, query, user))
        except NsxFault as fault:
            self._send_document(fault.status, fault.document())

    def _refuse(self, reason: str) -> None:
        if reason == AuthenticationFailed.BAD_CREDENTIALS:
            # NSX-v answers a wrong user name or password with 403 and no NSX error body (auth.py).
            # That body is not documented; the emulator sends an empty one typed as the web
            # container's error pages are (VMware's nsxramlclient needs a Content-Type to raise its
            # NsxError). A 403 for a missing permission does carry NSX's <error> with an errorCode.
            self._send(403, b"", ERROR_PAGE_TYPE)
            return
        fault = NsxFault(
            401,
            AUTHENTICATION_FAILED,
            "Authentication failed: an Authorization header was expected, or the token is invalid or has expired.",
        )
        self._send_document(401, fault.document(), {"WWW-Authenticate": 'Basic realm="NSX Manager"'})

    def _dispatch(self, method: str, path: str, query: dict, user: str) -> Document:
        path_known = False
        for route_method, pattern, handler in COMPILED_ROUTES:
            match = pattern.match(path)
            if not match:
                continue
            path_known = True
            if route_method != method:
                continue
            if handler is None:
                return _token(self.server.model, match.groupdict(), query, user, self.server.auth)
            return handler(self.server.model, match.groupdict(), query, user)
        if path_known:
            raise NsxFault(405, METHOD_NOT_ALLOWED, f"The emulator does not implement {method} {path}.")
        raise NsxFault(404, UNKNOWN_URL, f"The requested URL {path} does not exist on this NSX Manager.")

    def _control(self, method: str, path: str, query: dict) -> None:
        """Faults and version switch: no authentication, so loopback clients only."""
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send_json(403, {"error": "the control endpoint answers loopback clients only"})
            return
        if path == "/emulator/faults":
            if method == "POST":
                try:
                    rule = FaultRule.from_query(query)
                except RuleError as exc:
                    self._send_json(400, {"error": str(exc)})
                    return
                self.server.faults.add(rule)
                self._send_json(201, {"rule": rule.as_dict()})
            elif method == "DELETE":
                self.server.faults.clear()
                self._send_json(204, None)
            elif method == "GET":
                self._send_json(200, {"rules": self.server.faults.snapshot()})
            else:
                self._send_json(405, {"error": "use GET, POST or DELETE"})
        elif path == "/emulator/version" and method == "POST":
            try:
                version = Version.parse(query.get("version", ""))
            except ValueError as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self.server.model.set_version(version)
            self._send_json(200, {"version": str(version), "build": version.build})
        else:
            self._send_json(404, {"error": f"unknown control path {path}"})


class NsxServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: NsxModel, auth: Authenticator, certificate: CertificateFiles):
        super().__init__(address, NsxRequestHandler)
        self.model, self.auth, self.faults = model, auth, FaultRules()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificate.cert_path, certificate.key_path)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # Probes that only read the certificate (trust on first use) close mid-handshake: not an error.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)
