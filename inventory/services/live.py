"""Whether a vCenter's stored picture is live, and since when vCenter last confirmed it: what the
pages, the API and the pages' poller read (a couple of indexed single-row queries)."""

from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import Sum

from inventory.models import Datacenter, InventoryWatch, VCenter, WatchState


def liveness(vcenter: VCenter) -> dict:
    watch = InventoryWatch.objects.filter(pk=vcenter.pk).first()
    generation = Datacenter.objects.filter(vcenter=vcenter).aggregate(total=Sum("generation"))["total"] or 0
    live = bool(watch is not None and watch.is_live)
    return {
        "is_live": live,
        # "live" only while a watcher holds the lease and vCenter answered lately; else what it last was
        "state": WatchState.LIVE if live else (WatchState.IDLE if watch is None or watch.state == WatchState.LIVE
                                              else watch.state),
        "live_since": watch.live_since if live else None,
        "confirmed_at": watch.confirmed_at if watch is not None else None,
        "last_full_sync_at": watch.last_full_sync_at if watch is not None else None,
        "last_gap": watch.last_gap if watch is not None else "",
        "last_synced_at": vcenter.last_synced_at,
        "sync_state": vcenter.sync_state,
        "generation": generation,
    }


@contextmanager
def one_snapshot():
    """Reads inside see one snapshot of the picture, whatever commits meanwhile (a page's count and
    its rows, a VM and its host): on PostgreSQL outside a transaction, one REPEATABLE READ, READ ONLY
    transaction; inside a caller's transaction, or on SQLite (whose transactions take the write lock
    at once), the caller's reads as they are."""
    if connection.vendor == "postgresql" and connection.get_autocommit() and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        yield
