"""The appliance registered in every vCenter it manages, as a vCenter extension: registered when
the vCenter is added (its certificate accepted), compared and updated on every full sync (a new
VIO_PUBLIC_URL, a new certificate in VIO_TLS_CERT_FILE, a new version), unregistered when the
vCenter is removed. Never in the way: a vCenter that refuses is recorded ("failed", in its words)
and everything else goes on."""

import hashlib
import logging
import ssl
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from inventory.models import ExtensionState, VCenter

log = logging.getLogger(__name__)

LABEL = "VIO Manager"
SUMMARY = "VIO Manager: deploys and runs VMware Integrated OpenStack clouds on this vCenter."
COMPANY = "VIO Manager"
REMOVE_TIMEOUT_SECONDS = 10.0


@lru_cache(maxsize=1)
def appliance_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vio-manager")
    except PackageNotFoundError:
        import tomllib

        return tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())["project"]["version"]


def certificate_thumbprint(url: str, path: str) -> str:
    """SHA-1 of the certificate the appliance serves (vCenter's thumbprint form), when reached over https."""
    if not url.startswith("https:") or not path:
        return ""
    try:
        der = ssl.PEM_cert_to_DER_cert(Path(path).read_text())
    except (OSError, ValueError) as exc:
        log.warning("VIO_TLS_CERT_FILE %s cannot be read (%s): registering without a thumbprint", path, exc)
        return ""
    digest = hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def wanted():
    from inventory.clients.vsphere_extension import Registration

    url = settings.VIO_PUBLIC_URL
    return Registration(key=settings.VIO_EXTENSION_KEY, label=LABEL, summary=SUMMARY, version=appliance_version(),
                        company=COMPANY, url=url, thumbprint=certificate_thumbprint(url, settings.VIO_TLS_CERT_FILE))


def _record(vcenter: VCenter, state: str, details: dict) -> None:
    details = {**details, "checked_at": timezone.now().isoformat()}
    VCenter.objects.filter(pk=vcenter.pk).update(extension_state=state, extension=details)
    vcenter.extension_state, vcenter.extension = state, details


def refresh(vcenter: VCenter, si=None) -> str:
    """Register, or update when it differs; the state recorded ("registered" or "failed")."""
    from pyVmomi import vmodl

    from inventory.clients import sessions, vsphere_extension
    from inventory.clients.vsphere import VCenterCredentials, describe_failure

    registration = wanted()
    try:
        si = si or sessions.session_for(VCenterCredentials.of(vcenter))
        outcome = vsphere_extension.register_or_update(si, registration, timezone.now())
    except vmodl.fault.MethodNotFound:
        _record(vcenter, ExtensionState.FAILED, {**registration.as_dict(),
                "message": "This vCenter offers no ExtensionManager methods; the appliance is not listed among its solutions."})
        return vcenter.extension_state
    except Exception as exc:
        why = describe_failure(exc)
        log.warning("vCenter %s: the extension registration failed: %s", vcenter.pk, why)
        _record(vcenter, ExtensionState.FAILED, {**registration.as_dict(), "message": why})
        return vcenter.extension_state
    if outcome != "unchanged":
        log.info("vCenter %s: extension %s %s (%s)", vcenter.pk, registration.key, outcome, registration.url)
    _record(vcenter, ExtensionState.REGISTERED, {**registration.as_dict(), "message": ""})
    return vcenter.extension_state


def remove(vcenter: VCenter) -> bool:
    """Unregister from a vCenter being removed (best effort, bounded: the removal goes on regardless)."""
    if not vcenter.is_pinned or vcenter.extension_state != ExtensionState.REGISTERED:
        return False
    from inventory.clients.vsphere import VCenterCredentials, connect_with, disconnect
    from inventory.clients.vsphere_extension import unregister

    try:
        si = connect_with(VCenterCredentials.of(vcenter), timeout=REMOVE_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("vCenter %s removed without unregistering the extension: %s", vcenter.pk, exc)
        return False
    try:
        return unregister(si, vcenter.extension.get("key") or settings.VIO_EXTENSION_KEY)
    except Exception as exc:
        log.warning("vCenter %s: unregistering the extension failed: %s", vcenter.pk, exc)
        return False
    finally:
        disconnect(si)
