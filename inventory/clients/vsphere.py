"""vCenter over pyvmomi, always through a certificate-pinned TLS context."""

import http.client
import logging
import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyVim.connect import SmartStubAdapter, VimSessionOrientedStub
from pyVmomi import vim, vmodl

from inventory.clients.errors import CertificateChanged, HostUnreachable, InvalidCredentials, NotAVCenter
from inventory.clients.tls import fetch_certificate, pinned_context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VCenterCredentials:
    """Everything needed to open a session; the password is used only by the login callback."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    fingerprint: str


def connect(host: str, port: int, username: str, password: str, fingerprint: str, timeout: float = 30.0):
    """Log in to vCenter over a certificate-pinned connection and return its ServiceInstance.

    The session logs in again by itself when vCenter answers NotAuthenticated (an expired
    session): pyvmomi's VimSessionOrientedStub with our own login callback (its stock one reads
    sessionManager.currentSession first, which the simulator faults on). The password never
    appears in an error or a log line.
    """
    context = pinned_context(host, port, fingerprint)
    try:
        stub = SmartStubAdapter(host=host, port=port, sslContext=context, httpConnectionTimeout=timeout)
    except ssl.SSLCertVerificationError:
        # The certificate changed between reading it and the handshake.
        raise CertificateChanged(host, port, fingerprint, fetch_certificate(host, port).sha256) from None
    except (ConnectionError, OSError, http.client.HTTPException) as exc:
        raise HostUnreachable(f"The connection to {host}:{port} failed: {exc.__class__.__name__}.") from None
    except Exception as exc:  # pyvmomi raises a plain Exception when no vSphere SDK answers
        if "not a VIM server" in str(exc):
            raise NotAVCenter(f"{host}:{port} answered, but it is not a vCenter Server SDK endpoint (no /sdk).") from None
        raise

    def login(soap_stub):
        vim.ServiceInstance("ServiceInstance", soap_stub).content.sessionManager.Login(username, password, None)

    si = vim.ServiceInstance("ServiceInstance", VimSessionOrientedStub(stub, login, retryDelay=0.5, retryCount=3))
    try:
        about = si.content.about  # the first call logs in
    except vim.fault.InvalidLogin:
        raise InvalidCredentials(
            f"vCenter {host} refused the user name or password for '{username}'. Check them and try again."
        ) from None
    if about.apiType != "VirtualCenter":
        disconnect(si)
        raise NotAVCenter(f"{host}:{port} is {about.fullName}, an ESXi host, not vCenter Server. Give the vCenter address.")
    log.info("connected to %s:%s (%s)", host, port, about.fullName)
    return si


def connect_with(credentials: VCenterCredentials, timeout: float = 30.0):
    return connect(credentials.host, credentials.port, credentials.username, credentials.password,
                   credentials.fingerprint, timeout)


def disconnect(si) -> None:
    """Log out; a session that is already gone is fine."""
    try:
        si.content.sessionManager.Logout()
    except Exception:  # the server may be gone or the session expired: nothing left to close
        log.debug("logout failed", exc_info=True)


def collect(si, obj_type, properties: list[str], root=None, page_size: int = 1000) -> list[dict]:
    """Read properties of every object of one type in one round trip (ContainerView + collector).

    Each row is a dict of the properties that are set, plus "_obj" (the managed object). Follows
    paging tokens where the server returns them (vCenter does; the 0.24.2 simulator never pages).
    """
    pc = vmodl.query.PropertyCollector
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(root or content.rootFolder, [obj_type], True)
    try:
        spec = pc.FilterSpec(
            objectSet=[
                pc.ObjectSpec(
                    obj=view,
                    skip=True,
                    selectSet=[pc.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)],
                )
            ],
            propSet=[pc.PropertySpec(type=obj_type, pathSet=properties, all=False)],
        )
        collector = content.propertyCollector
        result = collector.RetrievePropertiesEx([spec], pc.RetrieveOptions(maxObjects=page_size))
        rows = []
        while result:
            rows.extend(dict({p.name: p.val for p in o.propSet}, _obj=o.obj) for o in result.objects)
            result = collector.ContinueRetrievePropertiesEx(result.token) if result.token else None
        return rows
    finally:
        view.DestroyView()


class WaitTimeout(TimeoutError):
    pass


class WaitStopped(Exception):
    """The caller asked a wait to end early (a deployment being cancelled)."""


class TaskTimeout(WaitTimeout):
    pass


STOP_CHECK_SECONDS = 2


@contextmanager
def watching(si, objects, obj_type, paths: list[str], timeout: float, stop=None):
    """Watch properties of some objects without polling: WaitForUpdatesEx on a private collector,
    so concurrent waits sharing one session do not disturb each other. Yields an iterator of the
    accumulated {moid: {path: value}} after each change; raises WaitTimeout at the deadline, and
    WaitStopped within STOP_CHECK_SECONDS of the threading.Event `stop` being set."""
    pc = vmodl.query.PropertyCollector
    collector = si.content.propertyCollector.CreatePropertyCollector()
    try:
        collector.CreateFilter(
            pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=obj) for obj in objects],
                          propSet=[pc.PropertySpec(type=obj_type, pathSet=paths, all=False)]),
            True,
        )

        def updates():
            state: dict[str, dict] = {}
            version = ""
            deadline = time.monotonic() + timeout
            while True:
                if stop is not None and stop.is_set():
                    raise WaitStopped("stopped on request")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(f"still waiting after {timeout:g} s")
                wait = remaining if stop is None else min(remaining, STOP_CHECK_SECONDS)
                update = collector.WaitForUpdatesEx(version, pc.WaitOptions(maxWaitSeconds=max(1, int(wait))))
                if update is None:
                    continue  # that slice of the wait passed quietly
                version = update.version
                for filter_set in update.filterSet:
                    for object_update in filter_set.objectSet:
                        values = state.setdefault(object_update.obj._moId, {})
                        values.update({change.name: change.val for change in object_update.changeSet})
                yield state

        yield updates()
    finally:
        collector.Destroy()


def wait_for_tasks(si, tasks, timeout: float = 300.0) -> dict[str, dict]:
    """Wait until every task is success or error.

    Returns {task moid: {"info.state": …, "info.error": …, "info.result": …}}.
    """
    ids = {task._moId for task in tasks}
    pending = ids
    try:
        with watching(si, tasks, vim.Task, ["info.state", "info.error", "info.result"], timeout) as updates:
            for state in updates:
                pending = {moid for moid in ids if state.get(moid, {}).get("info.state") not in ("success", "error")}
                if not pending:
                    return state
    except WaitTimeout:
        raise TaskTimeout(f"{len(pending)} vCenter task(s) still running after {timeout:g} s: {sorted(pending)}") from None
