"""Downloads from a URL a user gave (the appliance OVA), written for a hostile URL and a hostile server.

- http and https only. Every host name is resolved here and each address checked: loopback,
  link-local (cloud metadata), private, shared, multicast, reserved and unspecified addresses and
  this machine's own are refused unless an administrator lists them (VIO_OVA_ALLOWED_NETWORKS).
  The connection goes to the address that was checked, so a second DNS answer (rebinding) cannot
  swap it; TLS still verifies the certificate against the host name.
- Redirects are followed here, a bounded number, each hop checked the same way.
- Connect and read timeouts; a size limit checked on Content-Length and on the bytes as they come.
- Bytes are stored as sent (no transparent gzip decoding), into a temporary 0600 file hashed while
  it is written, renamed to <sha256><suffix> only when complete: a failed or partial download
  leaves nothing behind, and a retry fetches again.
- A user name and password in a URL are sent as Basic authentication (to the URL's own host only)
  and never shown: every message names URLs through redact().
"""

import hashlib
import ipaddress
import os
import re
import socket
import tempfile
import unicodedata
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3
from requests.adapters import HTTPAdapter

from vio_manager.private_files import private_directory, write_private

CHUNK_SIZE = 1 << 20
REDIRECTS = (301, 302, 303, 307, 308)
SETTING = "VIO_OVA_ALLOWED_NETWORKS"
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


class DownloadError(Exception):
    """The download was refused or failed; the message is fit to show (no credentials) and says what to do."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    allowed: tuple = ()  # ipaddress networks an administrator allows although they are refused by default
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    path: Path
    sha256: str
    size: int
    cached: bool = False


def redact(url: str) -> str:
    """The URL without its user name and password: how a URL is shown anywhere."""
    return _USERINFO.sub(r"\1***@", url)


def parse_networks(values) -> tuple:
    """("10.0.0.0/8", "127.0.0.1") -> networks; ValueError names a wrong entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a network (e.g. 10.0.0.0/8 or 127.0.0.1/32): {exc}") from None
    return tuple(networks)


def ova_limits() -> Limits:
    """The limits for the appliance OVA, from the settings (read at each call: tests may change them)."""
    from django.conf import settings

    return Limits(max_bytes=settings.VIO_OVA_MAX_BYTES, allowed=parse_networks(settings.VIO_OVA_ALLOWED_NETWORKS),
                  connect_timeout=settings.VIO_OVA_CONNECT_SECONDS, read_timeout=settings.VIO_OVA_READ_SECONDS)


def size_text(count: int) -> str:
    """20 GiB, 9.99 KiB (rounded down: a limit is never shown larger than it is), 512 bytes."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count * 100 // size / 100:g} {unit}"
    return f"{count} bytes"


# --- addresses -----------------------------------------------------------------------------------------


def address_refusal(address, allowed=()) -> str:
    """Why the appliance must not connect to this address ("" when it may)."""
    address = ipaddress.ip_address(address)
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address.version == network.version and address in network for network in allowed):
        return ""
    if address.version == 6:  # an IPv6 address that carries an IPv4 one: judged by what it carries
        embedded = address.sixtofour or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None)
        if embedded is not None:
            return address_refusal(embedded, allowed)
    if address.is_unspecified:
        return "the unspecified address, which reaches this machine"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address, not a public one"
    if _is_own(address):
        return "an address of this appliance"
    return ""


def _bindable(address) -> bool:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(address), 0))
        return True
    except OSError:
        return False


def _is_own(address) -> bool:
    """An address of one of this machine's interfaces: only those can be bound (no packet is sent).
    Where any address can be bound (net.ipv4.ip_nonlocal_bind), the test says nothing: not ours."""
    if not _bindable(address):
        return False
    never_assigned = ipaddress.ip_address("192.0.2.1" if address.version == 4 else "2001:db8::1")
    return not _bindable(never_assigned)


def _literal_address(host: str):
    """The address a host names by itself (an IP literal, a legacy form like 127.1, localhost), or None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", host):
        try:  # what the system resolver takes for an IPv4 address: 127.1, 0x7f000001, 2130706433
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            pass
    if _is_localhost(host):
        return ipaddress.ip_address("127.0.0.1")
    return None


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")  # loopback by definition (RFC 6761)


ALLOWANCE = f"VIO Manager downloads only from public addresses, and from networks an administrator lists in {SETTING}."


def _where(address, why: str) -> str:
    return f"its host is {address}, {why}. {ALLOWANCE}"


# --- URLs ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as in the URL (lower case, no brackets)
    port: int
    path: str  # path and query
    username: str | None
    password: str | None

    @property
    def origin(self) -> tuple:
        return self.scheme, self.host, self.port

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _split(url: str) -> tuple[_Target | None, str]:
    """(the parts of url, "") or (None, why it cannot be fetched). Never echoes the URL (credentials)."""
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Zs", "Zl", "Zp") for ch in url):
        return None, "the URL contains spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        if port == 0:
            raise ValueError("port 0")
    except ValueError:
        return None, "the URL cannot be read (its host or port is malformed)"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return None, f"only http:// and https:// URLs can be downloaded, not {scheme or 'this'}:"
    if not parts.hostname:
        return None, "the URL names no host"
    try:
        host = parts.hostname.encode("idna").decode("ascii") if not parts.hostname.isascii() else parts.hostname
    except UnicodeError:
        return None, "the URL's host name is not a valid (international) domain name"
    username = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    return _Target(scheme, host, port or (443 if scheme == "https" else 80),
                   (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), username, password), ""


def url_refusal(url: str, allowed=()) -> str:
    """Why a URL would be refused before any lookup ("" when it may be tried): the checks a spec
    can make when it is written. Host names are resolved, and checked, only when downloading."""
    target, problem = _split(url)
    if target is None:
        return problem
    address = _literal_address(target.host)
    if address is not None:
        why = address_refusal(address, allowed)
        if why:
            return _where(address, why)
    return ""


def _resolve(target: _Target, allowed) -> str:
    """The one checked address the connection goes to. Every address the name has must be allowed:
    which of them a client would take is not ours to guess."""
    literal = _literal_address(target.host)
    if literal is not None and not _is_localhost(target.host):
        addresses = [literal]  # 127.1 or 0x7f000001 too: the address it is, not a name to look up
    else:
        try:
            found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise DownloadError(f"The host name {target.host} could not be resolved "
                                f"({getattr(exc, 'strerror', None) or exc}).", "unresolvable") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in found))
    for address in addresses:
        why = address_refusal(address, allowed)
        if why:
            named = "is" if target.host == str(address) else f"resolves to {address},"
            raise DownloadError(f"{target.host} {named} {why}. {ALLOWANCE}", "address_refused")
    return str(addresses[0])


# --- the request ---------------------------------------------------------------------------------------


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address in the URL (the checked one) while TLS names and verifies the host."""

    def __init__(self, host: str):
        self._host = host
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block, server_hostname=self._host,
                                 assert_hostname=self._host, **pool_kwargs)


def _ca_bundle():
    # The session ignores the environment (proxies, .netrc); a CA bundle given there is still honoured.
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def _session(target: _Target) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: the connection goes where it was checked
    adapter = _PinnedAdapter(target.host)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _get(session: requests.Session, target: _Target, address: str, auth, limits: Limits) -> requests.Response:
    host = f"[{address}]" if ":" in address else address
    try:
        return session.get(f"{target.scheme}://{host}:{target.port}{target.path}", stream=True, allow_redirects=False,
                           auth=auth, timeout=(limits.connect_timeout, limits.read_timeout), verify=_ca_bundle(),
                           headers={"Host": target.host_header, "Accept-Encoding": "identity",
                                    "User-Agent": "VIO-Manager"})
    except requests.exceptions.SSLError:
        raise DownloadError(f"the TLS certificate of {target.host_header} could not be verified (the appliance trusts "
                            "the public certificate authorities, and those in REQUESTS_CA_BUNDLE)", "tls") from None
    except requests.exceptions.ConnectTimeout:
        raise DownloadError(f"{target.host_header} did not accept a connection within {limits.connect_timeout:g} s",
                            "unreachable") from None
    except requests.exceptions.ReadTimeout:
        raise DownloadError(f"{target.host_header} did not answer within {limits.read_timeout:g} s",
                            "timeout") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise DownloadError(f"{target.host_header} could not be reached: {_reason(exc)}", "unreachable") from None


def _reason(exc: BaseException) -> str:
    """A short cause, never the exception's text (requests and urllib3 put the request line in it)."""
    seen, queue = set(), [exc]
    while queue:
        item = queue.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, urllib3.exceptions.IncompleteRead):
            return "the server closed the connection early"
        if isinstance(item, TimeoutError):
            return "timed out"
        if isinstance(item, OSError) and not isinstance(item, requests.RequestException) and item.strerror:
            return item.strerror.lower()
        queue += [getattr(item, "reason", None), item.__cause__, item.__context__]
        queue += [arg for arg in getattr(item, "args", ()) if isinstance(arg, BaseException)]
    if isinstance(exc, urllib3.exceptions.ProtocolError | requests.exceptions.ChunkedEncodingError):
        return "the connection broke"
    return type(exc).__name__


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _printable(text: str, limit: int = 80) -> str:
    return "".join(ch for ch in str(text) if ch.isprintable())[:limit]


def fetch(url: str, directory, limits: Limits, *, suffix: str = ".ova", what: str = "the file") -> Fetched:
    """Download url into directory as <sha256><suffix>; DownloadError when refused or failed (nothing
    is left behind then)."""
    shown = redact(url)
    current = url
    target, problem = _split(current)
    if target is None:
        raise DownloadError(f"Cannot download {what}: {problem}.", "invalid_url")
    auth = (target.username or "", target.password or "") if target.username or target.password else None
    for _ in range(limits.max_redirects + 1):
        via = f", redirected to {redact(current)[:300]}" if current != url else ""
        try:
            address = _resolve(target, limits.allowed)
        except DownloadError as exc:
            raise DownloadError(f"Refused to download {what} from {shown}{via}: {exc.message}", exc.code) from None
        session = _session(target)
        try:
            response = _get(session, target, address, auth, limits)
        except DownloadError as exc:
            session.close()
            raise DownloadError(f"Could not download {what} from {shown}{via}: {exc.message}. Check the URL and "
                                "that the server is up, then retry.", exc.code) from None
        with session, response:
            if response.status_code in REDIRECTS:
                location = response.headers.get("Location", "")
                if not location:
                    raise DownloadError(f"Downloading {what} from {shown}{via} gave HTTP {response.status_code} "
                                        "without saying where to.", "http_error")
                current = urllib.parse.urljoin(current, location)
                following, problem = _split(current)
                if following is None:
                    raise DownloadError(f"Refused to download {what} from {shown}: it redirects to "
                                        f"{redact(current)[:300]}, and {problem}.", "invalid_url")
                # Credentials go to the origin they were given for; another origin gets only its own.
                if following.origin != target.origin or following.username or following.password:
                    auth = ((following.username or "", following.password or "")
                            if following.username or following.password else None)
                target = following
                continue
            if response.status_code != 200:
                raise DownloadError(f"Downloading {what} from {shown}{via} gave HTTP {response.status_code} "
                                    f"{_printable(response.reason)}. Check the URL and that the server is up, "
                                    "then retry.", "http_error")
            return _store(response, Path(directory), limits, suffix, shown, what)
    raise DownloadError(f"Refused to download {what} from {shown}: it redirects more than {limits.max_redirects} "
                        "times; give the final URL.", "too_many_redirects")


def _too_large(shown: str, what: str, limits: Limits, announced: int | None = None) -> DownloadError:
    size = f" ({size_text(announced)})" if announced is not None else ""
    return DownloadError(f"{_sentence(what)} at {shown} is larger{size} than {size_text(limits.max_bytes)}, the most "
                         "VIO Manager downloads (VIO_OVA_MAX_BYTES).", "too_large")


def _store(response: requests.Response, directory: Path, limits: Limits, suffix: str, shown: str, what: str) -> Fetched:
    announced = response.headers.get("Content-Length", "")
    if announced.strip().isdigit() and int(announced) > limits.max_bytes:
        raise _too_large(shown, what, limits, int(announced))
    private_directory(directory)
    fd, partial = tempfile.mkstemp(dir=directory, prefix=".download-", suffix=".part")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                try:
                    chunk = response.raw.read(CHUNK_SIZE, decode_content=False)  # the bytes as sent
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | socket.timeout | TimeoutError):
                        raise DownloadError(f"The download of {what} from {shown} stalled: nothing came for "
                                            f"{limits.read_timeout:g} s after {size_text(size)}. Retry.",
                                            "timeout") from None
                    raise DownloadError(f"The download of {what} from {shown} broke off after {size_text(size)} "
                                        f"({_reason(exc)}). Retry.", "incomplete") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > limits.max_bytes:
                    raise _too_large(shown, what, limits)
                digest.update(chunk)
                out.write(chunk)
        if announced.strip().isdigit() and size != int(announced):
            raise DownloadError(f"The download of {what} from {shown} ended after {size_text(size)} of "
                                f"{size_text(int(announced))}. Retry.", "incomplete")
        path = directory / f"{digest.hexdigest()}{suffix}"
        os.replace(partial, path)
    except OSError as exc:  # the appliance's own disk (full, unwritable): not the server's doing
        Path(partial).unlink(missing_ok=True)
        raise DownloadError(f"{_sentence(what)} could not be stored in {directory}: {exc.strerror or exc}.",
                            "not_stored") from None
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return Fetched(path, digest.hexdigest(), size)


def fetch_cached(url: str, directory, limits: Limits, *, suffix: str = ".ova", what: str = "the file") -> Fetched:
    """fetch, once per URL: files are kept by content hash, with a note of which URL gave which hash.
    Only a complete download is noted, so after a failure the next call fetches again."""
    directory = Path(directory)
    index = directory / "by-url" / (hashlib.sha256(redact(url).encode()).hexdigest() + ".sha256")
    try:
        digest = index.read_text().strip()
    except (OSError, UnicodeDecodeError):  # none yet (or unreadable): fetched again
        digest = ""
    path = directory / f"{digest}{suffix}"
    if re.fullmatch(r"[0-9a-f]{64}", digest) and path.is_file():
        return Fetched(path, digest, path.stat().st_size, cached=True)
    fetched = fetch(url, directory, limits, suffix=suffix, what=what)
    private_directory(index.parent, base=directory)
    write_private(index, fetched.sha256 + "\n")
    return fetched
