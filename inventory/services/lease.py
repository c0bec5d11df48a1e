"""The watcher's lease: exactly one watcher per vCenter across every process and machine.

Why the database and not Redis: the lease lives beside the picture it guards, so a watcher's write
and the check that it still holds the lease are one transaction (fence(): the lease row is locked
and its holder and token compared before anything is written). A holder that stalled past its
lease (a long GC pause, a frozen VM) and woke up after another took over cannot write a stale
change: its token is no longer the row's. A lease in Redis could not fence a PostgreSQL write that
way; and `make demo` has no Redis at all.

Every change to the row is a compare-and-set UPDATE (no read-modify-write): take it when it is free
or expired (the token rises), renew it only while holder and token are still ours, release it the
same way.
"""

import os
import socket
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import InventoryWatch, WatchState


class LeaseLost(Exception):
    """Another watcher holds this vCenter's lease now: stop, write nothing."""


def new_holder() -> str:
    """This watcher's name in the lease: where it runs, and unique across restarts."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _row(vcenter_id: int) -> None:
    InventoryWatch.objects.get_or_create(vcenter_id=vcenter_id)


def acquire(vcenter_id: int, holder: str) -> int | None:
    """Take the lease if nobody holds it or its holder let it expire; the new token, or None."""
    _row(vcenter_id)
    now = timezone.now()
    taken = (InventoryWatch.objects.filter(vcenter_id=vcenter_id)
             .filter(Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now))
             .update(holder=holder, token=F("token") + 1, acquired_at=now, state=WatchState.STARTING, live_since=None,
                     expires_at=now + timedelta(seconds=settings.VIO_WATCH_LEASE_SECONDS)))
    if not taken:
        return None
    return InventoryWatch.objects.filter(vcenter_id=vcenter_id, holder=holder).values_list("token", flat=True).first()


def renew(vcenter_id: int, holder: str, token: int, confirmed_at=None) -> bool:
    """Extend the lease (and record vCenter's last answer); False when it is no longer ours."""
    changes = {"expires_at": timezone.now() + timedelta(seconds=settings.VIO_WATCH_LEASE_SECONDS)}
    if confirmed_at is not None:
        changes["confirmed_at"] = confirmed_at
    return InventoryWatch.objects.filter(vcenter_id=vcenter_id, holder=holder, token=token).update(**changes) == 1


def release(vcenter_id: int, holder: str, token: int, why: str = "") -> None:
    """Give the lease up at once (a clean stop): the next watcher need not wait for it to expire."""
    changes = {"holder": "", "expires_at": None, "state": WatchState.IDLE, "live_since": None}
    if why:
        changes["last_gap"] = why[:2000]
    InventoryWatch.objects.filter(vcenter_id=vcenter_id, holder=holder, token=token).update(**changes)


def fence(vcenter_id: int, holder: str, token: int):
    """A callable for a write transaction: lock the lease row and refuse (LeaseLost) unless it is
    still this holder's, with this token. Writers all lock this row first, so they never interleave."""

    def check():
        assert transaction.get_connection().in_atomic_block, "a fence belongs inside the write transaction"
        mine = list(InventoryWatch.objects.select_for_update().filter(vcenter_id=vcenter_id, holder=holder, token=token)
                    .values_list("pk", flat=True))
        if not mine:
            raise LeaseLost(f"the lease of vCenter {vcenter_id} is no longer held by {holder} (token {token})")

    return check


def update(vcenter_id: int, holder: str, token: int, **changes) -> bool:
    """Change the watch row's bookkeeping (state, live_since, counters…) only while the lease is ours."""
    return InventoryWatch.objects.filter(vcenter_id=vcenter_id, holder=holder, token=token).update(**changes) == 1


def holder_of(vcenter_id: int) -> tuple[str, int] | None:
    """(holder, token) of an unexpired lease, or None."""
    row = (InventoryWatch.objects.filter(vcenter_id=vcenter_id, expires_at__gt=timezone.now()).exclude(holder="")
           .values_list("holder", "token").first())
    return tuple(row) if row else None
