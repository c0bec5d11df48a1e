"""Thin Celery entry points for deployments."""

from celery import shared_task

from deployments.services import wizard_secrets


@shared_task(name="deployments.forget_wizard_secrets")
def forget_wizard_secrets() -> None:
    wizard_secrets.forget_abandoned()
