"""One vCenter session per worker process, reused by every task it runs.

pyvmomi's stub is not fork-safe, so sessions are made lazily in the process that uses them and
forgotten in a forked child. An expired session logs in again by itself (see vsphere.connect).
"""

import hashlib
import logging
import os
import threading

from inventory.clients.vsphere import VCenterCredentials, connect_with, disconnect

log = logging.getLogger(__name__)

_lock = threading.Lock()
_sessions: dict[tuple, object] = {}
_owner_pid = os.getpid()


def _key(credentials: VCenterCredentials) -> tuple:
    # Credentials that change (a new password, a re-accepted certificate) get a new session.
    secret = hashlib.sha256(credentials.password.encode()).hexdigest()
    return (credentials.host, credentials.port, credentials.username, credentials.fingerprint, secret)


def session_for(credentials: VCenterCredentials):
    """The ServiceInstance for these credentials, logging in on first use in this process."""
    global _owner_pid
    key = _key(credentials)
    with _lock:
        if os.getpid() != _owner_pid:  # forked: the parent's connections are not ours
            _sessions.clear()
            _owner_pid = os.getpid()
        si = _sessions.get(key)
    if si is not None:
        return si
    si = connect_with(credentials)
    with _lock:
        _sessions.setdefault(key, si)
        return _sessions[key]


def forget(credentials: VCenterCredentials) -> None:
    with _lock:
        si = _sessions.pop(_key(credentials), None)
    if si is not None:
        disconnect(si)


def close_all() -> None:
    """Log out of every session this process holds (worker shutdown)."""
    with _lock:
        sessions = list(_sessions.values()) if os.getpid() == _owner_pid else []
        _sessions.clear()
    for si in sessions:
        disconnect(si)
    if sessions:
        log.info("logged out of %d vCenter session(s)", len(sessions))
