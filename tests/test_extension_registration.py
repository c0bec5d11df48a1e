"""The appliance registered in vCenter as an extension (ExtensionManager), seen through pyvmomi:
registered when the vCenter is added and its certificate accepted, updated on the next sync when
the appliance's URL or certificate changed, unregistered when the vCenter is removed; the vCenter's
page and API show the registration's state."""

import datetime
import hashlib
import ssl

import pytest
from django.conf import settings as django_settings

from inventory import models as m
from inventory.services import endpoints, extension, sync

pytestmark = pytest.mark.django_db

KEY = "com.vio-manager.appliance"


def registered(si):
    return si.RetrieveContent().extensionManager.FindExtension(KEY)


@pytest.fixture
def fresh(vcsim_factory):
    handle = vcsim_factory()
    si = handle.connect()
    yield handle, si
    from inventory.clients.vsphere import disconnect

    disconnect(si)


def add_vcenter(handle):
    vcenter = endpoints.register(m.VCenter, name="vc", host=handle.host, port=handle.port,
                                 username=handle.username, password=handle.password)
    return endpoints.accept_certificate(vcenter, handle.fingerprint)


def self_signed_pem(tmp_path, name: str) -> tuple[str, str]:
    """A certificate file as the appliance would serve it, and its SHA-1 thumbprint in vCenter's form."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    path = tmp_path / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    digest = hashlib.sha1(ssl.PEM_cert_to_DER_cert(path.read_text()), usedforsecurity=False).hexdigest().upper()
    return str(path), ":".join(digest[i:i + 2] for i in range(0, 40, 2))


def test_adding_a_vcenter_registers_the_appliance(fresh, settings, admin_client):
    handle, si = fresh
    settings.VIO_PUBLIC_URL = "http://vio.example.test:8000/"
    assert registered(si) is None
    vcenter = add_vcenter(handle)

    found = registered(si)
    assert found is not None, vcenter.extension
    assert found.description.label == "VIO Manager" and found.company == "VIO Manager"
    assert found.version == extension.appliance_version() == "0.1.0"
    assert found.server[0].url == "http://vio.example.test:8000/" and not found.server[0].serverThumbprint
    assert vcenter.extension_state == m.ExtensionState.REGISTERED
    shown = admin_client.get(f"/api/v1/vcenters/{vcenter.pk}/").json()["extension"]
    assert shown["state"] == "registered" and shown["key"] == KEY and shown["url"] == "http://vio.example.test:8000/"
    page = admin_client.get(f"/vcenters/{vcenter.pk}/").content.decode()
    assert "Registered in vCenter" in page and KEY in page


def test_a_new_url_or_certificate_is_updated_on_the_next_sync(fresh, settings, tmp_path):
    handle, si = fresh
    settings.VIO_PUBLIC_URL = "http://vio.example.test:8000/"
    vcenter = add_vcenter(handle)
    m.VCenter.objects.filter(pk=vcenter.pk).update(sync_state="idle")
    assert registered(si).server[0].url == "http://vio.example.test:8000/"

    settings.VIO_PUBLIC_URL = "https://vio.example.test/"
    settings.VIO_TLS_CERT_FILE, thumbprint = self_signed_pem(tmp_path, "first")
    assert sync.sync_vcenter(vcenter.pk).ok
    server = registered(si).server[0]
    assert (server.url, server.serverThumbprint) == ("https://vio.example.test/", thumbprint)

    settings.VIO_TLS_CERT_FILE, renewed = self_signed_pem(tmp_path, "renewed")  # a new certificate, same URL
    assert renewed != thumbprint and sync.sync_vcenter(vcenter.pk).ok
    assert registered(si).server[0].serverThumbprint == renewed
    vcenter.refresh_from_db()
    assert vcenter.extension_state == "registered" and vcenter.extension["thumbprint"] == renewed
    assert len([e for e in si.RetrieveContent().extensionManager.extensionList if e.key == KEY]) == 1


def test_removing_the_vcenter_unregisters_the_appliance(fresh, admin_client):
    handle, si = fresh
    vcenter = add_vcenter(handle)
    assert registered(si) is not None
    assert admin_client.delete(f"/api/v1/vcenters/{vcenter.pk}/").status_code == 204
    assert registered(si) is None
    assert not m.VCenter.objects.filter(pk=vcenter.pk).exists()


def test_a_vcenter_that_refuses_is_recorded_and_nothing_else_stops(fresh):
    handle, si = fresh
    handle.inject(method="RegisterExtension", fault="NoPermission", count="all")
    vcenter = add_vcenter(handle)
    assert vcenter.status == "connected"  # the connection stands
    assert vcenter.extension_state == m.ExtensionState.FAILED and "permission" in vcenter.extension["message"].lower()
    handle.clear_faults()
    m.VCenter.objects.filter(pk=vcenter.pk).update(sync_state="idle")
    assert sync.sync_vcenter(vcenter.pk).ok  # the next sync registers it
    vcenter.refresh_from_db()
    assert vcenter.extension_state == m.ExtensionState.REGISTERED and registered(si) is not None
    assert django_settings.VIO_EXTENSION_KEY == KEY
