"""Logins, failed logins, lockouts and logouts go to the audit log.

Connected in AccessConfig.ready, after django-axes' own receivers (axes is listed first in
INSTALLED_APPS), so a failed attempt is already counted when it is recorded here.
"""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from vio_manager.access import audit
from vio_manager.access.models import Via


def _anonymous(request, username: str) -> audit.Actor:
    return audit.Actor(user=None, username=(username or "")[:150], ip_address=audit.client_ip(request) if request else None,
                       via=Via.API if request is not None and request.path_info.startswith("/api/") else Via.BROWSER)


@receiver(user_logged_in, dispatch_uid="access-login")
def login_succeeded(sender, request, user, **kwargs):
    if request is not None:
        audit.record(audit.Actor.from_request(request, user=user), "login.success")


@receiver(user_login_failed, dispatch_uid="access-login-failed")
def login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; only the typed name is kept.
    # axes leaves axes_failures_since_start unset when it refused an attempt of a locked-out client.
    refused = bool(getattr(request, "axes_locked_out", False)) and getattr(request, "axes_failures_since_start", None) is None
    audit.record(_anonymous(request, credentials.get("username", "")), "login.failed",
                 detail={"reason": "locked_out" if refused else "invalid_credentials"})


@receiver(user_locked_out, dispatch_uid="access-locked-out")
def locked_out(sender, request, username=None, ip_address=None, **kwargs):
    if getattr(request, "axes_failures_since_start", None) is not None:  # this attempt reached the limit
        audit.record(_anonymous(request, username or ""), "login.locked_out",
                     detail={"failures": request.axes_failures_since_start})


@receiver(user_logged_out, dispatch_uid="access-logout")
def logged_out(sender, request, user, **kwargs):
    if request is not None and user is not None:
        audit.record(audit.Actor.from_request(request, user=user), "logout")
