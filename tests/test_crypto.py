"""Field encryption: a dedicated MultiFernet key list, rotation-ready; secrets never show themselves."""

import pytest
from cryptography.fernet import Fernet

from vio_manager import crypto


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    return settings, old, new


def test_round_trip_and_ciphertext_hides_the_value(keys):
    token = crypto.encrypt("VMware1!")
    assert "VMware1!" not in token
    assert crypto.decrypt(token) == "VMware1!"


def test_rotation_keeps_old_tokens_readable_and_rewrites_them(keys):
    settings, old, new = keys
    token = crypto.encrypt("s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "s3cret"
    rotated = crypto.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "s3cret"
    with pytest.raises(crypto.DecryptionError, match="rotated"):
        crypto.decrypt(token)


def test_secret_key_is_not_the_encryption_key(settings):
    assert settings.SECRET_KEY not in settings.FIELD_ENCRYPTION_KEYS


def test_secret_wrapper_never_prints_its_value():
    secret = crypto.Secret("VMware1!")
    assert str(secret) == repr(secret) == "********"
    assert f"{secret}" == "********" and "VMware1!" not in repr([secret])
    assert secret.reveal() == "VMware1!"


def test_encrypted_field_stores_ciphertext_and_returns_a_secret(keys):
    field = crypto.EncryptedTextField()
    stored = field.get_prep_value("VMware1!")
    assert stored != "VMware1!" and crypto.decrypt(stored) == "VMware1!"
    loaded = field.from_db_value(stored, None, None)
    assert isinstance(loaded, crypto.Secret) and loaded.reveal() == "VMware1!"
    assert field.get_prep_value(loaded) != stored  # re-encrypted (fresh IV), same plaintext
