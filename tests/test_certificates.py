"""Certificates TLS refuses are told apart from changed ones: a vCenter whose pinned certificate has a
1024-bit key, or has expired, is reported as such (once, with what to do), never as "changed"; a
setting lets an administrator use a weak pinned certificate. Simulators serving such certificates."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from inventory import models as m
from inventory.choices import ConnectionStatus
from inventory.clients.tls import fetch_certificate
from inventory.services import endpoints

pytestmark = pytest.mark.django_db


def _certificate(directory, *, bits: int = 2048, days: tuple[int, int] = (-1, 365)):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0])).not_valid_after(now + datetime.timedelta(days=days[1]))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return ["-cert", str(cert_path), "-key", str(key_path)]


def _accepted(simulator):
    vcenter = endpoints.register(m.VCenter, name="weak", host=simulator.host, port=simulator.port,
                                 username=simulator.username, password=simulator.password)
    return endpoints.accept_certificate(vcenter, simulator.fingerprint)


def test_a_weak_pinned_certificate_is_called_weak_not_changed_and_a_setting_allows_it(vcsim_factory, tmp_path, settings,
                                                                                      admin_client):
    simulator = vcsim_factory(*_certificate(tmp_path, bits=1024))
    presented = fetch_certificate(simulator.host, simulator.port)
    assert presented.problems == ["its RSA key has 1024 bits, and TLS refuses keys under 2048 bits as too weak"]

    vcenter = _accepted(simulator)
    assert vcenter.status == ConnectionStatus.ERROR and vcenter.status_code == "certificate_not_acceptable"
    message = vcenter.status_message
    assert "is the one you accepted" in message and "1024 bits" in message and "VIO_TLS_ALLOW_WEAK_PINNED" in message
    assert "changed" not in message and message.count(simulator.fingerprint) == 1
    assert vcenter.presented_certificate["sha256"] == simulator.fingerprint  # what is presented now

    page = admin_client.get(f"/vcenters/{vcenter.pk}/certificate/").content.decode()
    assert 'id="cert-problems"' in page and "1024 bits" in page and "VIO_TLS_ALLOW_WEAK_PINNED=1" in page

    settings.VIO_TLS_ALLOW_WEAK_PINNED = True
    vcenter = endpoints.check_connection(vcenter)
    assert vcenter.status == ConnectionStatus.CONNECTED, vcenter.status_message
    assert vcenter.about["full_name"].startswith("VMware vCenter Server")


def test_an_expired_pinned_certificate_says_it_expired_and_to_renew_it(vcsim_factory, tmp_path):
    simulator = vcsim_factory(*_certificate(tmp_path, days=(-30, -1)))
    vcenter = _accepted(simulator)
    assert vcenter.status_code == "certificate_not_acceptable"
    assert "it expired on" in vcenter.status_message and "Renew the server's certificate" in vcenter.status_message
    assert "changed" not in vcenter.status_message


def test_a_replaced_certificate_is_still_called_changed(vcsim_factory, vcsim):
    """The other side of the distinction: another fingerprint is a change, with both fingerprints."""
    other = vcsim_factory()
    vcenter = endpoints.register(m.VCenter, name="moved", host=other.host, port=other.port, username=other.username,
                                 password=other.password)
    m.VCenter.objects.filter(pk=vcenter.pk).update(certificate_sha256=vcsim.fingerprint)
    vcenter = endpoints.check_connection(m.VCenter.objects.get(pk=vcenter.pk))
    assert vcenter.status == ConnectionStatus.CERTIFICATE_CHANGED
    assert vcsim.fingerprint in vcenter.status_message and other.fingerprint in vcenter.status_message
