"""NSX for vSphere (NSX-v) Manager over its REST API, always through a certificate-pinned TLS context.

Reads what a VIO deployment checks before it starts: version, transport zones, edges, controllers,
the VDS prepared for VXLAN, host preparation of each cluster, and the vCenter registration.
Responses are XML, the format the RAML documents and the one its examples let us check (the
element names below are those of the RAML 6.4 `responses: 200` examples); the exception is the
version, which managers before 6.2.3 send in JSON only. XML is parsed by defusedxml with DTDs
and entities refused. The password is used for Basic authentication only and never appears in an
error or a log line.
"""

import logging
import re
import ssl
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone

import defusedxml.ElementTree as SafeET
import requests
from defusedxml import DefusedXmlException
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError

from inventory.clients.errors import (
    DnsFailure,
    HostUnreachable,
    InvalidCredentials,
    NotAnNsxManager,
    NsxApiError,
    NsxPermissionDenied,
    NsxUnsafeXml,
    UnsupportedNsxVersion,
)
from inventory.clients.tls import normalize_fingerprint, pinned_context, refusal

log = logging.getLogger(__name__)

MINIMUM_NSX_VERSION = (6, 1, 2)  # the oldest NSX-v the vmware-nsx Neutron plugin supports
DEFAULT_PAGE_SIZE = 256  # NSX's own default for /api/4.0/edges
XML_TYPE = "application/xml"
GLOBAL_INFO = "/api/1.0/appliance-management/global/info"
APPLIANCE_API = "/api/1.0/appliance-management/"
# What every NSX role, Auditor included, may read: tells valid credentials from wrong ones.
CREDENTIALS_PROBE = "/api/2.0/vdn/scopes"


@dataclass(frozen=True)
class NsxVersion:
    major: int
    minor: int
    patch: int
    build: int

    def at_least(self, minimum: tuple[int, ...]) -> bool:
        return (self.major, self.minor, self.patch)[: len(minimum)] >= tuple(minimum)

    @property
    def supported(self) -> bool:
        return self.at_least(MINIMUM_NSX_VERSION)

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def __str__(self) -> str:
        return f"{self.number} (build {self.build})"


@dataclass(frozen=True)
class TransportZone:
    id: str
    name: str
    control_plane_mode: str
    cluster_moids: tuple[str, ...]
    is_universal: bool


@dataclass(frozen=True)
class Edge:
    id: str
    name: str
    type: str  # gatewayServices | distributedRouter
    state: str
    status: str
    datacenter_moid: str
    appliance_version: str


@dataclass(frozen=True)
class Controller:
    id: str
    name: str
    ip_address: str
    status: str

    @property
    def running(self) -> bool:
        # The RAML lists Deploying/Removing/Running/Unknown; managers answer RUNNING.
        return self.status.upper() == "RUNNING"


@dataclass(frozen=True)
class VdsContext:
    switch_moid: str
    name: str
    mtu: int
    teaming: str
    datacenter_moid: str


@dataclass(frozen=True)
class FabricFeature:
    feature_id: str
    status: str
    installed: bool


@dataclass(frozen=True)
class VcenterRegistration:
    host: str
    user: str
    thumbprint: str
    connected: bool
    last_sync: datetime | None


class PinnedTlsAdapter(HTTPAdapter):
    """Every connection uses the pinned context: the accepted certificate is the only trust anchor."""

    def __init__(self, ssl_context: ssl.SSLContext):
        self._ssl_context = ssl_context
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        # assert_hostname=False: the pin is the server's identity (as in tls.context_trusting);
        # NSX certificates often name another host than the address the admin typed.
        super().init_poolmanager(
            connections, maxsize, block, ssl_context=self._ssl_context, assert_hostname=False, **pool_kwargs
        )

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        return super().proxy_manager_for(proxy, ssl_context=self._ssl_context, assert_hostname=False, **proxy_kwargs)

    def cert_verify(self, conn, url, verify, cert):
        # requests would set conn.ca_certs to its CA bundle, and urllib3 would then load that bundle
        # into our context, trusting every public CA next to the pin. Keep the pin alone.
        if verify is not True:
            raise ValueError("NSX connections are always verified against the pinned certificate.")
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def _text(element: ET.Element, path: str, default: str = "") -> str:
    value = element.findtext(path)
    return value.strip() if value is not None else default


def _is_true(value: str) -> bool:
    return value.strip().lower() == "true"


class NsxClient:
    def __init__(self, host: str, port: int, username: str, password: str, fingerprint: str, timeout: float = 30):
        self.host, self.port, self.username, self.timeout = host, int(port), username, timeout
        self._password = password
        self._fingerprint = normalize_fingerprint(fingerprint)
        self._session: requests.Session | None = None
        self.requests_sent = 0  # round trips, for sync records
        self.address = f"{host}:{port}"
        self._base_url = f"https://{'[' + host + ']' if ':' in host else host}:{self.port}"

    # --- connection --------------------------------------------------------------------------

    def _connect(self) -> requests.Session:
        """Check the pin (no credentials are sent to a certificate that does not match), then open a session."""
        if self._session is None:
            context = pinned_context(self.host, self.port, self._fingerprint, timeout=min(self.timeout, 10))
            session = requests.Session()
            session.trust_env = False  # no REQUESTS_CA_BUNDLE, no proxies, no .netrc from the environment
            session.auth = (self.username, self._password)
            session.headers.update({"Accept": XML_TYPE})
            session.mount("https://", PinnedTlsAdapter(context))
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _send(self, path: str, action: str, params: dict | None = None) -> requests.Response:
        """One GET; network and TLS failures become ConnectionProblems, HTTP statuses are the caller's."""
        session = self._connect()
        self.requests_sent += 1
        try:
            response = session.get(self._base_url + path, params=params, timeout=self.timeout)
        except requests.exceptions.SSLError as exc:
            raise refusal(self.host, self.port, self._fingerprint, exc) from None
        except requests.exceptions.Timeout:
            raise HostUnreachable(
                f"NSX Manager {self.address} did not answer within {self.timeout:g} s while "
                f"{action.lower()}. Check that it is running and reachable."
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if _caused_by(exc, NameResolutionError):
                raise DnsFailure(f"The name {self.host} does not resolve. Check the address and DNS.") from None
            raise HostUnreachable(
                f"The connection to NSX Manager {self.address} failed while {action.lower()}: "
                f"{exc.__class__.__name__}. Check the address and port."
            ) from None
        log.debug("GET %s -> %s", path, response.status_code)
        return response

    def _request(self, path: str, action: str, params: dict | None = None) -> requests.Response:
        response = self._send(path, action, params)
        if response.status_code in (401, 403):
            raise self._refusal(response, path, action)
        if response.status_code >= 400:
            raise self._error(response, path, action)
        return response

    def _refusal(self, response: requests.Response, path: str, action: str) -> Exception:
        """What a 401 or 403 means: wrong credentials, or a permission the user lacks.

        NSX-v answers a wrong user name or password with 403 (PowerNSX users see "403 : Forbidden :
        Response Body: " with an empty body), and 401 for a missing Authorization header or an
        invalid or expired token (RAML appendix, status codes). A request the user's role does not
        allow is a 403 too, but NSX's own code answers it with its error document: <error> with
        details, an errorCode and a moduleName (RAML appendix, "Error Messages"). The refusal of
        credentials comes earlier, from the authentication filter, without one. So: 401, or a 403
        without an NSX errorCode, is "wrong user name or password"; a 403 with one is a missing
        permission. One exception: the appliance-management API (the version) refuses valid vCenter
        (SSO) users with the same bodiless 403 (PowerNSX's Connect-NsxServer); there, one request to
        an API every NSX role may read tells the two apart.
        """
        parsed = _parse_nsx_error(response)
        if response.status_code == 403 and parsed is not None and parsed[0] is not None:
            code, module, details = parsed
            return NsxApiError(403, code, module, details, action=action, host=self.address)
        if response.status_code == 403 and path.startswith(APPLIANCE_API):
            probe = self._send(CREDENTIALS_PROBE, "Checking the credentials")
            if probe.status_code < 400:
                return NsxPermissionDenied(
                    f"NSX Manager {self.address} accepted the credentials of '{self.username}', but refuses "
                    f"it the appliance management API (HTTP 403 on {path}), which reports the NSX version: "
                    "NSX-v opens it to local NSX Manager accounts such as admin, not to vCenter (SSO) users. "
                    "Register NSX Manager with its admin account."
                )
        return InvalidCredentials(
            f"NSX Manager {self.address} refused the credentials of '{self.username}' (HTTP "
            f"{response.status_code}): wrong user name or password. Check them and try again."
        )

    def _error(self, response: requests.Response, path: str, action: str) -> Exception:
        parsed = _parse_nsx_error(response)
        if parsed is not None:
            code, module, details = parsed
            return NsxApiError(response.status_code, code, module, details, action=action, host=self.address)
        content_type = response.headers.get("Content-Type", "no content type")
        if response.status_code == 404:
            return NotAnNsxManager(
                f"{self.address} has no NSX API at {path} (HTTP 404, {content_type}). "
                "Is this the NSX Manager's address, and not vCenter's or another server's?"
            )
        snippet = " ".join(re.sub(r"<[^>]+>", " ", response.text[:300]).split())
        return NsxApiError(
            response.status_code, None, None, snippet or "(empty body)", action=action, host=self.address
        )

    def _xml(self, path: str, action: str, root_tag: str, params: dict | None = None) -> ET.Element:
        return self._xml_of(self._request(path, action, params), path, root_tag)

    def _xml_of(self, response: requests.Response, path: str, root_tag: str) -> ET.Element:
        content_type = response.headers.get("Content-Type", "")
        if "xml" not in content_type.lower():
            raise NotAnNsxManager(
                f"{self.address} answered {path} with {content_type or 'no content type'}, not NSX "
                "XML. Is this the NSX Manager's address?"
            )
        try:
            root = parse_xml(response.content, f"{self.address} ({path})")
        except ET.ParseError as exc:
            raise NotAnNsxManager(f"{self.address} answered {path} with malformed XML ({exc}).") from None
        if root.tag != root_tag:
            raise NotAnNsxManager(
                f"{self.address} answered {path} with <{root.tag}>, where NSX Manager sends "
                f"<{root_tag}>. Is this an NSX for vSphere Manager?"
            )
        return root

    # --- reads -------------------------------------------------------------------------------

    def version(self) -> NsxVersion:
        response = self._request(GLOBAL_INFO, "Reading the version")
        parts = ("majorVersion", "minorVersion", "patchVersion", "buildNumber")
        if "json" in response.headers.get("Content-Type", "").lower():
            # Before 6.2.3 this resource answered JSON whatever the Accept header, without the
            # globalInfo root ({"versionInfo": {"majorVersion": "6", ...}}; PowerNSX reads both).
            try:
                body = response.json()
                info = body.get("globalInfo", body)["versionInfo"]
                values = [str(info[part]) for part in parts]
            except (ValueError, KeyError, TypeError, AttributeError):
                raise NotAnNsxManager(
                    f"{self.address} answered {GLOBAL_INFO} with JSON without a versionInfo."
                ) from None
        else:
            root = self._xml_of(response, GLOBAL_INFO, "globalInfo")
            values = [_text(root, f"versionInfo/{part}") for part in parts]
        try:
            return NsxVersion(*(int(value) for value in values))
        except ValueError:
            raise NotAnNsxManager(f"{self.address} sent a globalInfo without a numeric versionInfo.") from None

    def require_supported_version(self) -> NsxVersion:
        version = self.version()
        if not version.supported:
            minimum = ".".join(map(str, MINIMUM_NSX_VERSION))
            raise UnsupportedNsxVersion(
                f"NSX Manager {self.address} runs NSX {version}; OpenStack's NSX-v plugin needs "
                f"{minimum} or later. Upgrade NSX Manager first."
            )
        return version

    def transport_zones(self) -> list[TransportZone]:
        root = self._xml("/api/2.0/vdn/scopes", "Reading transport zones", "vdnScopes")
        return [
            TransportZone(
                id=_text(scope, "objectId") or _text(scope, "id"),
                name=_text(scope, "name"),
                control_plane_mode=_text(scope, "controlPlaneMode"),
                cluster_moids=tuple(_text(c, "objectId") for c in scope.findall("clusters/cluster/cluster")),
                is_universal=_is_true(_text(scope, "isUniversal", "false")),
            )
            for scope in root.findall("vdnScope")
        ]

    def edges(self, page_size: int = DEFAULT_PAGE_SIZE) -> list[Edge]:
        """Every edge, page by page (startIndex/pageSize)."""
        found: dict[str, Edge] = {}
        start = 0
        while True:
            root = self._xml(
                "/api/4.0/edges",
                "Reading NSX Edges",
                "pagedEdgeList",
                params={"startIndex": start, "pageSize": page_size},
            )
            summaries = root.findall("edgePage/edgeSummary")
            total = int(_text(root, "edgePage/pagingInfo/totalCount") or 0)
            new = [s for s in summaries if _text(s, "objectId") not in found]
            for summary in new:
                edge = Edge(
                    id=_text(summary, "objectId") or _text(summary, "id"),
                    name=_text(summary, "name"),
                    type=_text(summary, "edgeType"),
                    state=_text(summary, "state"),
                    status=_text(summary, "edgeStatus"),
                    datacenter_moid=_text(summary, "datacenterMoid"),
                    appliance_version=_text(summary, "appliancesSummary/vmVersion"),
                )
                found[edge.id] = edge
            start += len(summaries)
            # Stop at the total, or when a page brings nothing new (a server that ignores startIndex).
            if not new or start >= total:
                return list(found.values())

    def controllers(self) -> list[Controller]:
        root = self._xml("/api/2.0/vdn/controller", "Reading NSX Controllers", "controllers")
        return [
            Controller(_text(c, "id"), _text(c, "name"), _text(c, "ipAddress"), _text(c, "status"))
            for c in root.findall("controller")
        ]

    def vds_contexts(self) -> list[VdsContext]:
        root = self._xml("/api/2.0/vdn/switches", "Reading the VXLAN-prepared switches", "vdsContexts")
        return [
            VdsContext(
                switch_moid=_text(ctx, "switch/objectId"),
                name=_text(ctx, "switch/name"),
                mtu=int(_text(ctx, "mtu", "0") or 0),
                teaming=_text(ctx, "teaming"),
                datacenter_moid=_text(ctx, "switch/scope/id"),
            )
            for ctx in root.findall("vdsContext")
        ]

    def fabric_status(self, cluster_moid: str) -> dict[str, FabricFeature]:
        """Host preparation of a cluster, keyed by feature: hostPrep, vxlan, messagingInfra (, firewall)."""
        root = self._xml(
            "/api/2.0/nwfabric/status",
            f"Reading the host preparation of {cluster_moid}",
            "resourceStatuses",
            params={"resource": cluster_moid},
        )
        features = {}
        for status in root.findall("resourceStatus/nwFabricFeatureStatus"):
            feature_id = _text(status, "featureId")
            # Key by the last part: NSX versions name the same feature com.vmware.vshield.nsxmgr.* or .vsm.*.
            features[feature_id.rsplit(".", 1)[-1]] = FabricFeature(
                feature_id, _text(status, "status"), _is_true(_text(status, "installed", "false"))
            )
        return features

    def vcenter_registration(self) -> VcenterRegistration:
        info = self._xml("/api/2.0/services/vcconfig", "Reading the vCenter registration", "vcInfo")
        status = self._xml(
            "/api/2.0/services/vcconfig/status", "Reading the vCenter connection status", "vcConfigStatus"
        )
        sync_ms = _text(status, "lastInventorySyncTime")
        return VcenterRegistration(
            host=_text(info, "ipAddress"),
            user=_text(info, "userName"),
            thumbprint=_text(info, "certificateThumbprint"),
            connected=_is_true(_text(status, "connected", "false")),
            last_sync=datetime.fromtimestamp(int(sync_ms) / 1000, tz=timezone.utc) if sync_ms.isdigit() else None,
        )


def _caused_by(exc: BaseException, kind: type) -> bool:
    """True when kind appears in the exception's args or its chain (requests wraps urllib3's errors)."""
    seen = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        stack.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        stack.extend(
            e for e in (current.__cause__, current.__context__, getattr(current, "reason", None)) if e is not None
        )
    return False


def _parse_nsx_error(response: requests.Response) -> tuple[int | None, str | None, str] | None:
    """(errorCode, moduleName, details) from an NSX error body, XML or JSON; None if it is not one."""
    content_type = response.headers.get("Content-Type", "").lower()
    if "json" in content_type:
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
            body = body["errors"][0]
        if isinstance(body, dict) and ("errorCode" in body or "details" in body):
            code = body.get("errorCode")
            return (int(code) if str(code).isdigit() else None), body.get("moduleName"), str(body.get("details", ""))
        return None
    if "xml" in content_type:
        try:
            root = parse_xml(response.content, f"The error body from {response.url}")
        except ET.ParseError:
            return None
        error = root if root.tag == "error" else root.find("error") if root.tag == "errors" else None
        if error is None:
            return None
        code = _text(error, "errorCode")
        return (int(code) if code.isdigit() else None), _text(error, "moduleName") or None, _text(error, "details")
    return None


def parse_xml(body: bytes, source: str) -> ET.Element:
    """Parse XML with DTDs, entities and external references refused (defusedxml); NSX sends none.

    A DTD can declare entities that expand to gigabytes (billion laughs) or read local files and
    URLs (XXE); a document that has one is refused whole, before anything in it is expanded.
    """
    try:
        return SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise NsxUnsafeXml(
            f"{source} sent XML with a DTD or entity declarations ({exc.__class__.__name__}), which NSX "
            "Manager never sends: it was refused without being parsed. Is this the NSX Manager's address, "
            "or is something between it and this appliance rewriting its answers?"
        ) from None
