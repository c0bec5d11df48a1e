"""Thin Celery entry points: ids in, services do the work."""

from celery import shared_task
from celery.signals import worker_process_shutdown

from inventory.services import sync


@shared_task(name="inventory.sync_vcenter")
def sync_vcenter(vcenter_id: int) -> None:
    sync.sync_vcenter(vcenter_id)


@shared_task(name="inventory.sync_nsx_manager")
def sync_nsx_manager(manager_id: int) -> None:
    sync.sync_nsx_manager(manager_id)


@shared_task(name="inventory.sync_all")
def sync_all() -> None:
    sync.sync_all()


@worker_process_shutdown.connect
def log_out_of_vcenter(**_):
    from inventory.clients import sessions

    sessions.close_all()
