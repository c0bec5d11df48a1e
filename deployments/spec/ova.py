"""A live check of the appliance OVA's URL, made where the URL is typed (the wizard's appliance step):
one Range request for its first 512 bytes, under the download policy of inventory/clients/download.py
(allowed networks, the checked address connected to, bounded redirects each checked again, timeouts,
credentials only to their own origin). It reports the size and the content type, and refuses what
would fail the deployment later: an HTTP error, a web page, something that is not a tar archive, a
file over VIO_OVA_MAX_BYTES. A server that cannot be reached now is an advisory: the deployment
downloads the OVA when it runs."""

import re
import urllib.parse
from dataclasses import asdict, dataclass, field

import requests
import urllib3

from deployments.spec.issues import ADVISORY, Issue

PATH = "appliance_ova.url"
SNIFF_BYTES = 512
MAX_PROBE_SECONDS = 15.0
HTML_TYPES = ("text/html", "application/xhtml+xml")
HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--)", re.IGNORECASE)
TRANSIENT = {"unresolvable", "unreachable", "timeout", "http_unavailable"}


@dataclass
class OvaCheck:
    url: str  # redacted
    final_url: str = ""  # redacted, after redirects
    status: int | None = None
    size: int | None = None
    content_type: str = ""
    tar: bool | None = None
    issues: list = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["issues"] = [i.as_dict() for i in self.issues]
        return data


def _issue(code: str, message: str) -> Issue:
    return Issue(PATH, code, message, ADVISORY if code in TRANSIENT else "blocking")


def _request(download, target, address: str, auth, limits):
    host = f"[{address}]" if ":" in address else address
    session = download._session(target)
    try:
        response = session.get(f"{target.scheme}://{host}:{target.port}{target.path}", stream=True,
                               allow_redirects=False, auth=auth, verify=download._ca_bundle(),
                               timeout=(limits.connect_timeout, min(limits.read_timeout, MAX_PROBE_SECONDS)),
                               headers={"Host": target.host_header, "Accept-Encoding": "identity",
                                        "User-Agent": "VIO-Manager", "Range": f"bytes=0-{SNIFF_BYTES - 1}"})
    except requests.exceptions.SSLError:
        session.close()
        raise download.DownloadError(f"the TLS certificate of {target.host_header} could not be verified", "tls") from None
    except requests.exceptions.ConnectTimeout:
        session.close()
        raise download.DownloadError(f"{target.host_header} did not accept a connection within "
                                     f"{limits.connect_timeout:g} s", "unreachable") from None
    except requests.exceptions.ReadTimeout:
        session.close()
        raise download.DownloadError(f"{target.host_header} did not answer within "
                                     f"{min(limits.read_timeout, MAX_PROBE_SECONDS):g} s", "timeout") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        session.close()
        raise download.DownloadError(f"{target.host_header} could not be reached: {download._reason(exc)}",
                                     "unreachable") from None
    return session, response


def _total_size(response) -> int | None:
    found = re.fullmatch(r"bytes\s+\d+-\d+/(\d+)", response.headers.get("Content-Range", "").strip())
    if response.status_code == 206 and found:
        return int(found[1])
    length = response.headers.get("Content-Length", "").strip()
    return int(length) if response.status_code == 200 and length.isdigit() else None


def _first_bytes(response) -> bytes:
    try:
        return response.raw.read(SNIFF_BYTES, decode_content=False) or b""
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        return b""


def check_ova_url(url: str) -> OvaCheck:
    """What the OVA's URL answers now (see the module's note); never raises for the server's doing."""
    from inventory.clients import download
    from inventory.clients.download import size_text

    limits = download.ova_limits()
    shown = download.redact(url)
    result = OvaCheck(url=shown)
    target, problem = download._split(url)
    if target is None:
        result.issues.append(_issue("invalid_url", f"{shown} cannot be downloaded: {problem}."))
        return result
    auth = (target.username or "", target.password or "") if target.username or target.password else None
    current = url
    for _ in range(limits.max_redirects + 1):
        via = f" (redirected to {download.redact(current)[:300]})" if current != url else ""
        try:
            address = download._resolve(target, limits.allowed)
            session, response = _request(download, target, address, auth, limits)
        except download.DownloadError as exc:
            if exc.code in TRANSIENT:
                message = (f"The OVA at {shown}{via} could not be checked now: {exc.message}. The deployment downloads "
                           "it when it runs: make sure the appliance can reach it by then.")
            else:
                message = f"The OVA at {shown}{via} cannot be downloaded: {exc.message}."
            result.issues.append(_issue(exc.code, message))
            return result
        with session, response:
            result.status = response.status_code
            if response.status_code in download.REDIRECTS:
                location = response.headers.get("Location", "")
                following, problem = download._split(urllib.parse.urljoin(current, location)) if location else (None, "")
                if following is None:
                    result.issues.append(_issue("invalid_url", f"{shown}{via} redirects "
                                                              f"{'nowhere' if not location else 'to a URL that ' + problem}."))
                    return result
                current = urllib.parse.urljoin(current, location)
                if following.origin != target.origin or following.username or following.password:
                    auth = ((following.username or "", following.password or "")
                            if following.username or following.password else None)
                target = following
                continue
            result.final_url = download.redact(current)
            result.content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()[:100]
            if response.status_code not in (200, 206):
                reason = "".join(ch for ch in str(response.reason or "") if ch.isprintable())[:80]
                code = "http_unavailable" if response.status_code in (502, 503, 504) else "http_error"
                what = {404: "there is no file at this URL", 410: "there is no file at this URL",
                        401: "the server wants credentials: put them in the URL (https://user:password@host/...)",
                        403: "the server refuses to give it"}.get(response.status_code, "check the URL and the server")
                result.issues.append(_issue(code, f"{shown}{via} answered HTTP {response.status_code} {reason}: {what}."))
                return result
            result.size = _total_size(response)
            head = _first_bytes(response)
        break
    else:
        result.issues.append(_issue("too_many_redirects", f"{shown} redirects more than {limits.max_redirects} times; "
                                                          "give the final URL."))
        return result
    if result.content_type in HTML_TYPES or HTML_START.match(head):
        result.issues.append(_issue("not_an_ova", f"{shown} is a web page ({result.content_type or 'HTML'}), not an OVA: "
                                                  "give the link to the .ova file itself."))
    elif len(head) >= 262:
        result.tar = head[257:262] == b"ustar"
        if not result.tar:
            kind = f" ({result.content_type})" if result.content_type else ""
            result.issues.append(_issue("not_an_ova", f"{shown} is not an OVA{kind}: an OVA is a tar archive, and this "
                                                      "file does not start like one. Give the .ova file itself."))
    if result.size is not None and result.size > limits.max_bytes:
        result.issues.append(_issue("too_large", f"The OVA at {shown} is {size_text(result.size)}, more than "
                                                 f"{size_text(limits.max_bytes)}, the most VIO Manager downloads "
                                                 "(VIO_OVA_MAX_BYTES)."))
    return result
