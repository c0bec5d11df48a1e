"""Import the appliance OVA into vCenter once, as a tagged template (OvfManager + HttpNfcLease).

The steps: read the descriptor and manifest out of the OVA (a tar), OvfManager.CreateImportSpec,
ResourcePool.ImportVApp (an HttpNfcLease), wait until the lease is ready, stream each disk to its
device URL over a certificate-pinned connection while a timer keeps the lease alive with
HttpNfcLeaseProgress, HttpNfcLeaseComplete, then tag the VM (extraConfig + annotation) and mark it
as a template. Any failure aborts the lease and removes the half-made VM before re-raising.
"""

import hashlib
import http.client
import logging
import posixpath
import ssl
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from pyVmomi import vim, vmodl

from inventory.clients.errors import TlsProblem
from inventory.clients.tls import context_trusting, fetch_certificate, format_fingerprint
from inventory.clients.vsphere import WaitTimeout, collect, wait_for_tasks, watching

log = logging.getLogger(__name__)

OVA_SHA256_KEY = "vio-manager.ova-sha256"
ROLE_KEY = "vio-manager.role"
TEMPLATE_ROLE = "appliance-template"
# Written with the import spec, so even a half-made import carries it: "importing" until the disks
# are uploaded and the VM is a template, then "complete". A later import removes a half-made one.
IMPORT_STATE_KEY = "vio-manager.import-state"
CHUNK_SIZE = 1024 * 1024
# Limits on what read_ova takes from an OVA into memory: a real descriptor is tens of KiB, a manifest a
# few lines, an appliance OVA a handful of files.
MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_MEMBERS = 10_000


class OvaImportError(Exception):
    """The OVA could not be imported; the message says where it stopped and what to check."""


class OvaFormatError(OvaImportError):
    """The file is not a usable OVA (no descriptor first, a manifest mismatch, a missing disk)."""


class UploadCertificateRefused(TlsProblem):
    """The host that receives the disk presented a certificate other than the trusted one."""

    code = "upload_certificate_refused"


@dataclass(frozen=True)
class OvaContents:
    ovf_name: str
    descriptor: str
    manifest: dict[str, str]  # file name -> sha256 hex (lower case)
    files: dict[str, int]  # file name -> size in bytes


def ova_sha256(path) -> str:
    """The SHA-256 of the whole OVA file, hex, lower case: the identity of an appliance build (read in chunks)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_ova(path) -> OvaContents:
    """Read the descriptor (which must come first) and the manifest; check the descriptor's hash.

    A hostile OVA cannot make this hold much memory: the descriptor and the manifest are refused above
    their limits before a byte of them is read, then read in chunks; the archive may list at most
    MAX_MEMBERS entries (tarfile keeps their headers while reading)."""
    try:
        archive = tarfile.open(path, "r:")
    except (tarfile.TarError, OSError) as exc:
        raise OvaFormatError(f"{path} is not an OVA (a tar archive): {exc}") from exc
    with archive:
        members = []
        try:
            for count, member in enumerate(archive, 1):
                if count > MAX_MEMBERS:
                    raise OvaFormatError(f"{path} holds more than {MAX_MEMBERS} files: it is not an appliance OVA.")
                if member.isfile():
                    members.append(member)
        except tarfile.TarError as exc:
            raise OvaFormatError(f"{path} is a damaged tar archive: {exc}") from exc
        if not members or not members[0].name.endswith(".ovf"):
            raise OvaFormatError(f"{path} is not an OVA: its first file must be the .ovf descriptor.")
        ovf = members[0]
        descriptor_bytes, descriptor_sha256 = _read_member(archive, ovf, MAX_DESCRIPTOR_BYTES, "descriptor", path)
        manifest: dict[str, str] = {}
        for member in members:
            if member.name.endswith(".mf"):
                text, _ = _read_member(archive, member, MAX_MANIFEST_BYTES, "manifest", path)
                manifest = _parse_manifest(text.decode("utf-8", "replace"))
        files = {m.name: m.size for m in members}
    expected = manifest.get(ovf.name)
    if expected and descriptor_sha256 != expected:
        raise OvaFormatError(f"The descriptor {ovf.name} in {path} does not match its manifest: the OVA is damaged.")
    try:
        descriptor = descriptor_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OvaFormatError(f"The descriptor {ovf.name} in {path} is not UTF-8 text.") from exc
    return OvaContents(ovf.name, descriptor, manifest, files)


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo, limit: int, what: str, path) -> tuple[bytes, str]:
    """(the member's bytes, their SHA-256), read in chunks; refused when larger than limit."""
    if member.size > limit:
        raise OvaFormatError(f"The {what} {member.name} in {path} is {member.size / 2**20:.1f} MiB; an appliance OVA's "
                             f"{what} is far smaller (at most {limit // 2**20} MiB are read). Check that this is "
                             "the VIO appliance OVA.")
    stream = archive.extractfile(member)
    content, digest = bytearray(), hashlib.sha256()
    while chunk := stream.read(min(CHUNK_SIZE, limit + 1 - len(content))):
        content += chunk
        digest.update(chunk)
        if len(content) > limit:  # the header's size is all tarfile reads; kept as a second guard
            raise OvaFormatError(f"The {what} {member.name} in {path} is larger than {limit // 2**20} MiB.")
    return bytes(content), digest.hexdigest()


def _parse_manifest(text: str) -> dict[str, str]:
    """Lines like "SHA256(name.vmdk)= hex"; only SHA256 lines are kept (SHA1 ones are ignored)."""
    found = {}
    for line in text.splitlines():
        algorithm, _, rest = line.partition("(")
        name, _, digest = rest.partition(")=")
        if algorithm.strip().upper() == "SHA256" and name and digest.strip():
            found[name] = digest.strip().lower()
    return found


def find_imported_template(si, ova_sha256: str) -> str | None:
    """The moid of a complete template imported from the OVA with this SHA-256, or None.

    Reads through the PropertyCollector (one round trip; unset properties are simply absent).
    """
    for row in _imports(si, ova_sha256):
        tags = _row_tags(row)
        if row.get("config.template") and tags.get(IMPORT_STATE_KEY, "complete") == "complete":
            return row["_obj"]._moId
    return None


def find_half_imports(si, ova_sha256: str, name: str) -> list[str]:
    """Moids of what an import of this OVA left unfinished (a worker killed mid-upload): VMs tagged
    with its checksum that are not complete templates, and untagged VMs with its deterministic name."""
    complete = find_imported_template(si, ova_sha256)
    found = []
    for row in collect(si, vim.VirtualMachine, ["name", "config.template", "config.extraConfig"]):
        moid = row["_obj"]._moId
        tags = _row_tags(row)
        ours = str(tags.get(OVA_SHA256_KEY, "")).lower() == ova_sha256.lower()
        if moid != complete and (ours or (row.get("name") == name and OVA_SHA256_KEY not in tags)):
            found.append(moid)
    return found


def _imports(si, ova_sha256: str) -> list[dict]:
    wanted = ova_sha256.lower()
    return [row for row in collect(si, vim.VirtualMachine, ["name", "config.template", "config.extraConfig"])
            if str(_row_tags(row).get(OVA_SHA256_KEY, "")).lower() == wanted]


def _row_tags(row: dict) -> dict:
    return {option.key: option.value for option in row.get("config.extraConfig") or []}


def network_refs(si, moids: dict[str, str]) -> dict:
    """{OVF network name: the vCenter network (standard or distributed port group)} from moids."""
    by_moid = {row["_obj"]._moId: row["_obj"] for row in collect(si, vim.Network, ["name"])}
    missing = [moid for moid in moids.values() if moid not in by_moid]
    if missing:
        raise OvaImportError(f"The network {missing[0]} no longer exists in vCenter: sync the inventory and retry.")
    return {name: by_moid[moid] for name, moid in moids.items()}


def import_into(si, ova_path, *, datacenter_moid: str, pool_moid: str, datastore_moid: str,
                networks: dict[str, str], **options) -> str:
    """import_ova with objects named by their moids: {OVF network name: network moid}."""
    stub = si._stub
    return import_ova(si, ova_path, datacenter=vim.Datacenter(datacenter_moid, stub),
                      resource_pool=vim.ResourcePool(pool_moid, stub), datastore=vim.Datastore(datastore_moid, stub),
                      network_mapping=network_refs(si, networks), **options)


def import_ova(si, ova_path, *, datacenter, resource_pool, folder=None, datastore, network_mapping: dict,
               name: str, tags: dict, progress: Callable[[int], None] | None = None, context: ssl.SSLContext,
               chunk_size: int = CHUNK_SIZE, keepalive_seconds: float = 20.0, lease_timeout: float = 300.0,
               vcenter_address: str | None = None) -> str:
    """Import the OVA as a template VM called `name` and return its moid.

    network_mapping: {OVF network name: vim.Network or DVPG}. tags: written to the VM's extraConfig
    (and, readable, to its annotation). progress(percent) is called with rising whole percentages.
    context: the pinned SSL context of this vCenter; disks go to vCenter's address over it
    (vcenter_address "host:port" overrides the address the session uses).
    """
    contents = read_ova(ova_path)
    content = si.RetrieveContent()
    folder = folder or datacenter.vmFolder
    params = vim.OvfManager.CreateImportSpecParams(
        entityName=name,
        networkMapping=[vim.OvfManager.NetworkMapping(name=key, network=value) for key, value in network_mapping.items()],
    )
    try:
        result = content.ovfManager.CreateImportSpec(contents.descriptor, resource_pool, datastore, params)
    except vmodl.MethodFault as fault:
        raise OvaImportError(f"vCenter refused the descriptor of {contents.ovf_name}: {_fault_text(fault)}") from fault
    if result.error:
        raise OvaImportError(
            f"vCenter cannot import {contents.ovf_name}: " + "; ".join(_fault_text(e) for e in result.error))
    for warning in result.warning or []:
        log.warning("OVF import of %s: %s", contents.ovf_name, _fault_text(warning))
    items = {item.deviceId: item for item in result.fileItem or []}
    for item in items.values():
        if item.path not in contents.files:
            raise OvaFormatError(f"The descriptor names {item.path}, which is not in {ova_path}.")

    # Tagged from the first moment the VM exists: a half-made import is recognisable as ours.
    config = getattr(result.importSpec, "configSpec", None)
    if config is not None:
        marks = {**{str(k): str(v) for k, v in tags.items()}, IMPORT_STATE_KEY: "importing"}
        config.extraConfig = [o for o in config.extraConfig or [] if o.key not in marks] + [
            vim.option.OptionValue(key=key, value=value) for key, value in marks.items()]
    try:
        lease = resource_pool.ImportVApp(result.importSpec, folder)
    except vmodl.MethodFault as fault:
        raise OvaImportError(
            f"vCenter refused to create the VM {name} in resource pool {_describe(resource_pool)} on datastore "
            f"{_describe(datastore)}: {_fault_text(fault)}") from fault

    vm = None
    completed = False
    try:
        info = _wait_until_ready(si, lease, lease_timeout)
        vm = info.entity  # read before Complete: Complete (and Abort) delete the lease
        address = vcenter_address or _session_address(si)
        uploads = []
        for device in info.deviceUrl:
            item = items.get(device.importKey)
            if item is None:
                continue  # a device with no file in the OVA (vCenter creates it empty)
            uploads.append((device, item, contents.files[item.path]))
        _upload_disks(lease, ova_path, contents, uploads, address, context, progress, chunk_size,
                      _keepalive_interval(info, keepalive_seconds))
        lease.HttpNfcLeaseComplete()
        completed = True
        _tag_and_mark_as_template(si, vm, tags, contents.ovf_name)
    except BaseException as exc:
        if not completed:
            _abort(lease, exc)
        if vm is not None:
            _destroy(si, vm)
        raise
    log.info("imported %s as template %s (%s)", ova_path, name, vm._moId)
    return vm._moId


# --- the lease -------------------------------------------------------------------------------------


def _wait_until_ready(si, lease, timeout: float):
    """Wait (WaitForUpdatesEx on a private collector, no polling) until the lease is ready."""
    try:
        with watching(si, [lease], vim.HttpNfcLease, ["state", "error", "info"], timeout) as updates:
            for state in updates:
                values = state.get(lease._moId, {})
                if values.get("state") == vim.HttpNfcLease.State.ready:
                    return values["info"]
                if values.get("state") == vim.HttpNfcLease.State.error:
                    raise OvaImportError(f"vCenter could not prepare the import: {_fault_text(values.get('error'))}")
                if values.get("state") == vim.HttpNfcLease.State.done:
                    raise OvaImportError("The import lease ended before any disk was uploaded.")
    except WaitTimeout:
        raise OvaImportError(f"vCenter did not get the import ready within {timeout:g} s.") from None


def _keepalive_interval(info, wanted: float) -> float:
    """Report progress well within the lease timeout (seconds), never slower than asked."""
    timeout = info.leaseTimeout or 300
    return max(0.01, min(wanted, timeout / 3))


class _LeaseKeepAlive:
    """Calls HttpNfcLeaseProgress(percent) on a timer while disks stream, so the lease never expires."""

    def __init__(self, lease, interval: float):
        self.lease, self.interval = lease, interval
        self.percent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nfc-lease-keepalive", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                report_lease_progress(self.lease, self.percent)
            except Exception:  # the upload itself will fail if the lease is really gone
                log.warning("HttpNfcLeaseProgress failed", exc_info=True)


def report_lease_progress(lease, percent: int) -> None:
    lease.HttpNfcLeaseProgress(percent)


def _abort(lease, cause: BaseException) -> None:
    try:
        lease.HttpNfcLeaseAbort(vmodl.fault.SystemError(reason=f"upload failed: {cause.__class__.__name__}"))
    except Exception:  # the lease may already be gone (timed out); the original error matters
        log.warning("HttpNfcLeaseAbort failed", exc_info=True)


def _destroy(si, vm) -> None:
    """Remove a half-made VM. vCenter removes it on Abort; the simulator keeps it, so look first."""
    if not any(row["_obj"]._moId == vm._moId for row in collect(si, vim.VirtualMachine, ["name"])):
        return
    try:
        state = wait_for_tasks(si, [vm.Destroy_Task()], timeout=120)
        error = state[next(iter(state))].get("info.error")
        if error is not None:
            log.warning("could not remove the half-imported VM %s: %s", vm._moId, _fault_text(error))
    except Exception:
        log.warning("could not remove the half-imported VM %s", vm._moId, exc_info=True)


# --- uploading the disks --------------------------------------------------------------------------


def _upload_disks(lease, ova_path, contents: OvaContents, uploads, address: str, context, progress,
                  chunk_size: int, keepalive: float) -> None:
    total = sum(size for _, _, size in uploads) or 1
    sent = 0
    reported = -1

    def advance(count: int):
        nonlocal sent, reported
        sent += count
        percent = min(100, sent * 100 // total)
        keeper.percent = percent
        if progress is not None and percent > reported:
            reported = percent
            progress(percent)

    with _LeaseKeepAlive(lease, keepalive) as keeper, tarfile.open(ova_path, "r:") as archive:
        if progress is not None:
            reported = 0
            progress(0)
        for device, item, size in uploads:
            url = _device_url(device.url, address)
            member = archive.extractfile(item.path)
            digest = _put_stream(url, member, size, _context_for(url, address, context, device.sslThumbprint),
                                 "PUT" if item.create else "POST", chunk_size, advance)
            expected = contents.manifest.get(item.path)
            if expected and digest != expected:
                raise OvaFormatError(f"{item.path} in {ova_path} does not match its manifest: the OVA is damaged.")
        if progress is not None and reported < 100:
            progress(100)
    report_lease_progress(lease, 100)


def _device_url(url: str, address: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        raise OvaImportError(f"vCenter gave a device URL that is not HTTPS ({parts.scheme}); refusing to upload.")
    if parts.netloc == "*":
        parts = parts._replace(netloc=address)
    return urllib.parse.urlunsplit(parts)


def _context_for(url: str, address: str, context: ssl.SSLContext, thumbprint: str | None) -> ssl.SSLContext:
    """The vCenter address uses the pinned context. An ESXi host named by the lease is trusted only
    with the thumbprint the lease gave (which came over the pinned vCenter session)."""
    netloc = urllib.parse.urlsplit(url).netloc
    if netloc == address:
        return context
    if not thumbprint:
        raise UploadCertificateRefused(
            f"vCenter asked for the disk upload to go to {netloc} without giving that host's certificate "
            "thumbprint, so it cannot be verified. Refusing to upload.")
    host, _, port = netloc.rpartition(":")
    presented = fetch_certificate(host.strip("[]"), int(port or 443))
    return context_trusting(_check_thumbprint(presented.der, thumbprint, netloc))


def _check_thumbprint(der: bytes, thumbprint: str, where: str) -> bytes:
    wanted = "".join(ch for ch in thumbprint if ch not in ": ").lower()
    algorithm = {40: "sha1", 64: "sha256", 128: "sha512"}.get(len(wanted))
    if algorithm is None or hashlib.new(algorithm, der).hexdigest() != wanted:
        raise UploadCertificateRefused(
            f"{where} presents a certificate whose fingerprint is not the one vCenter gave for the upload "
            f"({format_fingerprint(hashlib.sha256(der).digest())} SHA-256). Refusing to upload.")
    return der


def _put_stream(url: str, stream, size: int, context: ssl.SSLContext, method: str, chunk_size: int, advance) -> str:
    """Send `size` bytes from `stream` in chunks; return their SHA-256 (hex)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context, timeout=120)
    digest = hashlib.sha256()
    try:
        try:
            connection.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        except ssl.SSLCertVerificationError as exc:
            raise _refused(parts, exc) from None
        connection.putheader("Content-Type", "application/x-vnd.vmware-streamVmdk")
        connection.putheader("Content-Length", str(size))
        connection.putheader("Connection", "close")
        try:
            connection.endheaders()
        except ssl.SSLCertVerificationError as exc:
            raise _refused(parts, exc) from None
        left = size
        while left > 0:
            chunk = stream.read(min(chunk_size, left))
            if not chunk:
                raise OvaFormatError(f"The OVA ended {left} bytes short of {posixpath.basename(parts.path)}.")
            connection.send(chunk)
            digest.update(chunk)
            left -= len(chunk)
            advance(len(chunk))
        response = connection.getresponse()
        body = response.read(2000)
        if response.status not in (200, 201, 204):
            raise OvaImportError(
                f"The disk upload to {parts.hostname}:{parts.port} failed with HTTP {response.status} "
                f"{response.reason}: {body.decode('utf-8', 'replace').strip()[:300]}")
    except (ConnectionError, TimeoutError, http.client.HTTPException) as exc:
        raise OvaImportError(f"The disk upload to {parts.hostname}:{parts.port} broke off: {exc!r}") from exc
    finally:
        connection.close()
    return digest.hexdigest()


def _refused(parts, exc) -> UploadCertificateRefused:
    try:
        presented = f", it presents SHA-256 {fetch_certificate(parts.hostname, parts.port or 443).sha256}"
    except Exception:  # only to enrich the message; the refusal stands either way
        presented = ""
    return UploadCertificateRefused(
        f"The disk upload to {parts.hostname}:{parts.port} was refused: the server's certificate is not the "
        f"accepted one (TLS: {exc.verify_message}{presented}). If vCenter's certificate was replaced on purpose, "
        "review and accept the new one; otherwise something is intercepting the connection.")


def _session_address(si) -> str:
    """host:port of the vCenter this session talks to (pyvmomi's SoapStubAdapter keeps it)."""
    stub = si._stub
    stub = getattr(stub, "soapStub", stub)
    return stub.host


# --- tagging ---------------------------------------------------------------------------------------


def _tag_and_mark_as_template(si, vm, tags: dict, source: str) -> None:
    annotation = "\n".join(["Appliance template imported by VIO Manager from " + source]
                           + [f"{key}={value}" for key, value in sorted(tags.items())])
    spec = vim.vm.ConfigSpec(
        annotation=annotation,
        extraConfig=[vim.option.OptionValue(key=str(key), value=str(value)) for key, value in tags.items()]
        + [vim.option.OptionValue(key=IMPORT_STATE_KEY, value="complete")],
    )
    state = wait_for_tasks(si, [vm.ReconfigVM_Task(spec)], timeout=120)
    error = next(iter(state.values())).get("info.error")
    if error is not None:
        raise OvaImportError(f"The imported VM could not be tagged: {_fault_text(error)}")
    try:
        vm.MarkAsTemplate()
    except vmodl.MethodFault as fault:
        raise OvaImportError(f"The imported VM could not be marked as a template: {_fault_text(fault)}") from fault


def _describe(entity) -> str:
    try:
        return f"{entity.name} ({entity._moId})"
    except Exception:  # only for a message: the object's id is enough
        return entity._moId


def _fault_text(fault) -> str:
    if fault is None:
        return "no details given"
    if isinstance(fault, vmodl.MethodFault):
        messages = [m.message for m in fault.faultMessage or [] if getattr(m, "message", None)]
        text = fault.msg or "; ".join(messages)
        return f"{type(fault).__name__.rsplit('.', 1)[-1]}" + (f" ({text})" if text else "")
    localized = getattr(fault, "localizedMessage", None)
    inner = getattr(fault, "fault", None)
    if inner is not None:
        return _fault_text(inner) + (f": {localized}" if localized else "")
    return str(fault)
