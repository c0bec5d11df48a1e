"""Passwords typed into a wizard live encrypted in WizardSecret rows until the wizard finishes;
those of abandoned wizards are deleted once no session could still refer to them."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from deployments.models import WizardSecret


def forget_abandoned() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    deleted, _ = WizardSecret.objects.filter(created_at__lt=cutoff).delete()
    return deleted
