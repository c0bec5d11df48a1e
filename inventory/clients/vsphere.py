"""vCenter over pyvmomi, always through a certificate-pinned TLS context."""

import http.client
import logging
import ssl
import time

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl

from inventory.clients.errors import CertificateChanged, HostUnreachable, InvalidCredentials, NotAVCenter
from inventory.clients.tls import fetch_certificate, pinned_context

log = logging.getLogger(__name__)


def connect(host: str, port: int, username: str, password: str, fingerprint: str, timeout: float = 30.0):
    """Log in to vCenter and return its ServiceInstance.

    The password is used here and nowhere else; it never appears in an error or a log line.
    """
    context = pinned_context(host, port, fingerprint)
    try:
        si = SmartConnect(
            host=host, port=port, user=username, pwd=password, sslContext=context, httpConnectionTimeout=timeout
        )
    except vim.fault.InvalidLogin:
        raise InvalidCredentials(
            f"vCenter {host} refused the user name or password for '{username}'. Check them and try again."
        ) from None
    except ssl.SSLCertVerificationError:
        # The certificate changed between reading it and the handshake.
        presented = fetch_certificate(host, port).sha256
        raise CertificateChanged(host, port, fingerprint, presented) from None
    except (ConnectionError, OSError, http.client.HTTPException) as exc:
        raise HostUnreachable(f"The connection to {host}:{port} failed: {exc.__class__.__name__}.") from None
    except vim.fault.HostConnectFault as exc:
        raise HostUnreachable(f"{host}:{port}: {exc.msg}") from None
    except Exception as exc:  # pyvmomi raises plain Exceptions for endpoints that are not vSphere
        if "vimServiceVersions" in str(exc) or "version" in str(exc).lower():
            raise NotAVCenter(f"{host}:{port} answered, but it is not a vCenter Server SDK endpoint.") from None
        raise
    about = si.content.about
    if about.apiType != "VirtualCenter":
        Disconnect(si)
        raise NotAVCenter(f"{host}:{port} is {about.fullName}, an ESXi host, not vCenter Server. Give the vCenter address.")
    log.info("connected to %s (%s)", host, about.fullName)
    return si


def disconnect(si) -> None:
    Disconnect(si)


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


class TaskTimeout(Exception):
    pass


def wait_for_tasks(si, tasks, timeout: float = 300.0) -> dict[str, dict]:
    """Wait until every task is success or error, without polling: WaitForUpdatesEx on a private
    collector, so concurrent waits that share one session do not disturb each other.

    Returns {task moid: {"info.state": …, "info.error": …, "info.result": …}}.
    """
    pc = vmodl.query.PropertyCollector
    collector = si.content.propertyCollector.CreatePropertyCollector()
    try:
        collector.CreateFilter(
            pc.FilterSpec(
                objectSet=[pc.ObjectSpec(obj=task) for task in tasks],
                propSet=[pc.PropertySpec(type=vim.Task, pathSet=["info.state", "info.error", "info.result"])],
            ),
            True,
        )
        pending = {task._moId for task in tasks}
        state: dict[str, dict] = {}
        version = ""
        deadline = time.monotonic() + timeout
        while pending:
            remaining = deadline - time.monotonic()
            update = None
            if remaining > 0:
                update = collector.WaitForUpdatesEx(version, pc.WaitOptions(maxWaitSeconds=max(1, int(remaining))))
            if update is None:
                raise TaskTimeout(f"{len(pending)} vCenter task(s) still running after {timeout:g} s: {sorted(pending)}")
            version = update.version
            for filter_set in update.filterSet:
                for object_update in filter_set.objectSet:
                    values = state.setdefault(object_update.obj._moId, {})
                    values.update({change.name: change.val for change in object_update.changeSet})
                    if values.get("info.state") in ("success", "error"):
                        pending.discard(object_update.obj._moId)
        return state
    finally:
        collector.Destroy()
