"""Keys that must survive restarts: read from the environment, or kept in files under the data dir.

An embedded install (no DATABASE_URL) generates its keys on first run, readable by the owner only.
A production install must be given its keys: losing a generated field-encryption key would make
every stored vCenter and NSX password unreadable.
"""

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def read_or_create(path: Path, make, *, may_create: bool, env_name: str) -> str:
    """Return the key stored at path, creating it (mode 0600) when allowed."""
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ImproperlyConfigured(f"{path} is readable by other users: run `chmod 600 {path}`.")
        return path.read_text().strip()
    if not may_create:
        raise ImproperlyConfigured(f"{env_name} is not set. Set it in the environment (see README, 'Configuration').")
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
