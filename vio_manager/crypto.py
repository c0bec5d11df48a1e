"""Encryption of stored secrets (vCenter, NSX, OpenStack admin, LDAP bind passwords).

A dedicated key list, not SECRET_KEY: settings.FIELD_ENCRYPTION_KEYS, newest first. MultiFernet
encrypts with the first key and decrypts with any, so a key is rotated by putting a new one in front,
running `manage.py rotate_encryption_key`, then removing the old one.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models
from django.db.models.query_utils import DeferredAttribute


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEYS; "
            "was the key replaced instead of rotated?"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a token with the primary key."""
    return fernet().rotate(token.encode()).decode()


class Secret:
    """A decrypted secret that does not show itself in logs, reprs, templates or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "********"

    __repr__ = __str__

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class _SecretAttribute(DeferredAttribute):
    """Whatever is assigned (a str from a form, say) is held as a Secret."""

    def __set__(self, instance, value):
        if value is not None and not isinstance(value, Secret):
            value = Secret(str(value))
        instance.__dict__[self.field.attname] = value


class EncryptedTextField(models.TextField):
    """Stores a Fernet token; Python code sees a Secret (call .reveal() where the value is used)."""

    descriptor_class = _SecretAttribute

    def from_db_value(self, value, expression, connection):
        return None if value is None else Secret(decrypt(value))

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value):
        if value is None:
            return None
        plaintext = value.reveal() if isinstance(value, Secret) else str(value)
        return encrypt(plaintext)

    def value_to_string(self, obj):
        # Never serialize a secret (dumpdata, fixtures).
        return ""
