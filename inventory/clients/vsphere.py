"""vCenter over pyvmomi, always through a certificate-pinned TLS context."""

import http.client
import logging
import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from pyVim.connect import SmartStubAdapter, VimSessionOrientedStub
from pyVmomi import vim, vmodl

from inventory.clients.errors import HostUnreachable, InvalidCredentials, NotAVCenter, network_reason
from inventory.clients.tls import pinned_context, refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VCenterCredentials:
    """Everything needed to open a session; the password is used only by the login callback."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    fingerprint: str

    @classmethod
    def of(cls, vcenter) -> "VCenterCredentials":
        """A registered vCenter's (inventory.models.VCenter): its pinned certificate, its password revealed."""
        return cls(vcenter.host, vcenter.port, vcenter.username, vcenter.password.reveal(), vcenter.certificate_sha256)


def socket_timeout() -> float:
    """Seconds a SOAP call may stay silent before the client gives up on it (VIO_VCENTER_SOCKET_SECONDS)."""
    return float(settings.VIO_VCENTER_SOCKET_SECONDS)


def poll_slice() -> float:
    """Every long poll on vCenter is cut in slices well below the socket timeout, so a wait of any
    length never reaches it."""
    return socket_timeout() / 3


def connect(host: str, port: int, username: str, password: str, fingerprint: str, timeout: float | None = None):
    """Log in to vCenter over a certificate-pinned connection and return its ServiceInstance.

    The session logs in again by itself when vCenter answers NotAuthenticated (an expired
    session): pyvmomi's VimSessionOrientedStub with our own login callback (its stock one reads
    sessionManager.currentSession first, which the simulator faults on). The password never
    appears in an error or a log line.
    """
    timeout = timeout or socket_timeout()
    context = pinned_context(host, port, fingerprint)
    try:
        stub = SmartStubAdapter(host=host, port=port, sslContext=context, httpConnectionTimeout=timeout)
    except ssl.SSLError as exc:
        # Another certificate presented now, or the accepted one refused by TLS (weak, expired).
        raise refusal(host, port, fingerprint, exc) from None
    except (ConnectionError, OSError, http.client.HTTPException) as exc:
        reason = network_reason(exc, timeout)
        raise HostUnreachable(f"vCenter {host}:{port} cannot be reached: {reason}.", host=host, port=port,
                              reason=reason) from None
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


def connect_with(credentials: VCenterCredentials, timeout: float | None = None):
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
    try:
        return _collect(si, obj_type, properties, root, page_size)
    except vmodl.fault.ManagedObjectNotFound as fault:
        if not _is_session_object(fault):
            raise
        # The session expired between making the view and reading it; the stub logged in again, and
        # the view died with the old session: make it again.
        return _collect(si, obj_type, properties, root, page_size)


def _is_session_object(fault) -> bool:
    """Whether the missing object is one a session owns (a view, a collector, a filter), which an
    expired session takes with it, unlike inventory objects and tasks."""
    kind = type(getattr(fault, "obj", None)).__name__
    return any(name in kind for name in ("View", "PropertyCollector", "PropertyFilter"))


def _collect(si, obj_type, properties: list[str], root, page_size: int) -> list[dict]:
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
        try:
            view.DestroyView()
        except vmodl.fault.ManagedObjectNotFound:
            pass  # gone with an expired session


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
    WaitStopped within STOP_CHECK_SECONDS of the threading.Event `stop` being set.

    A wait of any length: each long poll lasts at most poll_slice(), well below the socket
    timeout. A session that expires meanwhile is logged in again by the stub; the collector died
    with it, so it is made again and the wait goes on from the full state."""
    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=obj) for obj in objects],
                         propSet=[pc.PropertySpec(type=obj_type, pathSet=paths, all=False)])
    holder = {"collector": None}

    def new_collector():
        collector = si.content.propertyCollector.CreatePropertyCollector()
        collector.CreateFilter(spec, True)
        holder["collector"] = collector
        return collector

    new_collector()
    try:
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
                wait = min(remaining, poll_slice() if stop is None else STOP_CHECK_SECONDS)
                try:
                    update = holder["collector"].WaitForUpdatesEx(version, pc.WaitOptions(maxWaitSeconds=max(1, int(wait))))
                except vmodl.fault.ManagedObjectNotFound as fault:
                    if not _is_session_object(fault):
                        raise
                    log.info("the session expired during a wait; watching again with a new collector")
                    new_collector()
                    version = ""
                    continue
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
        try:
            holder["collector"].Destroy()
        except Exception:  # gone with its session, or vCenter unreachable: nothing left to free
            log.debug("could not destroy a property collector", exc_info=True)


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


class TaskGone(Exception):
    """vCenter no longer knows the task (it restarted, or purged old tasks): look for its result instead."""


@dataclass(frozen=True)
class TaskOutcome:
    ok: bool
    result: object = None  # e.g. the VM a clone made (a managed object)
    error: str = ""  # vCenter's words when not ok
    fault: str = ""  # the fault's name, for code that must tell faults apart (e.g. DuplicateName)


def task_outcome(si, task_moid: str, budget: float) -> TaskOutcome | None:
    """How the vCenter task ended, waiting at most `budget` seconds; None while it still runs. Tasks
    belong to vCenter, not to a session: any session can follow a task another one started."""
    task = vim.Task(task_moid, si._stub)
    try:
        with watching(si, [task], vim.Task, ["info.state", "info.error", "info.result"], budget) as updates:
            for state in updates:
                values = state.get(task_moid, {})
                if values.get("info.state") == "success":
                    return TaskOutcome(True, values.get("info.result"))
                if values.get("info.state") == "error":
                    error = values.get("info.error")
                    fault = getattr(error, "fault", error)
                    name = type(fault).__name__.rsplit(".", 1)[-1] if fault is not None else ""
                    return TaskOutcome(False, error=task_error_text(error), fault=name)
    except WaitTimeout:
        return None
    except vmodl.fault.ManagedObjectNotFound as fault:
        if getattr(getattr(fault, "obj", None), "_moId", task_moid) == task_moid:
            raise TaskGone(task_moid) from None
        raise
    return None


def task_error_text(error) -> str:
    """A task's error (a LocalizedMethodFault) as vCenter words it."""
    if error is None:
        return "vCenter gave no details"
    localized = getattr(error, "localizedMessage", None)
    fault = getattr(error, "fault", error)
    return localized or explain_fault(fault) or "vCenter gave no details"


# --- vCenter trouble in words ---------------------------------------------------------------------


def unreachable_reason(exc: BaseException, where: str = "vCenter") -> str:
    """Words for an exception that means vCenter cannot be reached now (worth waiting for), or "".
    where: how to name it, e.g. "vCenter vc.example.com:443"."""
    if isinstance(exc, HostUnreachable):
        return f"{where} cannot be reached: {exc.reason}." if exc.reason else str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ""  # not a network problem: a changed certificate is refused, not waited for
    if isinstance(exc, (ConnectionError, TimeoutError, http.client.HTTPException)) or (
            isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)):
        return f"{where} cannot be reached: {network_reason(exc, socket_timeout())}."
    return ""


FAULT_WORDS = {
    "NotAuthenticated": "the vCenter session ended and could not be renewed; check the vCenter user and password",
    "NoPermission": "the vCenter user lacks a permission for this; give it the Administrator role on the datacenter",
    "InvalidLogin": "vCenter refused the user name or password; update them on the vCenter page",
}


def explain_fault(exc: BaseException) -> str:
    """A vCenter fault in vCenter's own words (its localized message), or "" for anything else."""
    if isinstance(exc, vmodl.fault.ManagedObjectNotFound):
        moid = getattr(getattr(exc, "obj", None), "_moId", "")
        return (f"The vCenter object {moid} no longer exists (deleted or moved in vCenter meanwhile). "
                "Retry: what is gone is made again.")
    if isinstance(exc, vmodl.MethodFault):
        name = type(exc).__name__.rsplit(".", 1)[-1]
        messages = [m.message for m in exc.faultMessage or [] if getattr(m, "message", None)]
        text = exc.msg or "; ".join(messages)
        if name in FAULT_WORDS:
            return f"vCenter said: {FAULT_WORDS[name]}" + (f" ({text})." if text else ".")
        return f"vCenter refused the request: {(text or _spaced(name)).rstrip('.')}."
    return ""


def _spaced(name: str) -> str:
    """"InvalidPowerState" -> "invalid power state": a fault with no message, named in words."""
    import re

    return re.sub(r"(?<!^)(?=[A-Z][a-z])", " ", name).lower()


def describe_failure(exc: BaseException) -> str:
    """Any failure of a call on vCenter, in words: unreachable, a fault, or the exception itself."""
    return unreachable_reason(exc) or explain_fault(exc) or f"{type(exc).__name__}: {exc}"[:500]
