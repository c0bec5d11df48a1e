"""Login throttling with django-axes: after AXES_FAILURE_LIMIT failures for one user name from one
address, that pair is locked out for AXES_COOLOFF_TIME, even with the right password. The login
page says so, and when to try again.

The login form is the only place a password is checked: the API takes session cookies made by it,
or API tokens (256 random bits each, not guessable), so neither bypasses the lockout.
"""

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timeuntil

from vio_manager.access.audit import client_ip


class LoginThrottleBackend(AxesStandaloneBackend):
    """axes' check before the password backends. Without a request (the test client's login(), a
    shell) there is no client to throttle, and axes would raise instead of answering."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_ip(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the same client address the audit log records."""
    return client_ip(request)


def retry_after(request, username: str):
    """When this user name may log in again from this address."""
    cool_off = get_cool_off(request)
    last = (AccessAttempt.objects.filter(username=username, ip_address=getattr(request, "axes_ip_address", None))
            .order_by("-attempt_time").values_list("attempt_time", flat=True).first())
    return (last or timezone.now()) + cool_off if cool_off else None


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the login page again (429), saying why and until when."""
    username = get_client_username(request, credentials) or ""
    until = retry_after(request, username)
    if until:
        message = (f"Too many failed logins for {username or 'this user'} from your address. Logging in is locked "
                   f"until {until:%H:%M} UTC (in {timeuntil(until)}), even with the right password.")
    else:
        message = "Too many failed logins: this account is locked. Ask an administrator to unlock it."
    form = AuthenticationForm(request, initial={"username": username})
    response = render(request, "registration/login.html",
                      {"form": form, "lockout": message, "next": request.POST.get("next", "")}, status=429)
    if until:
        response["Retry-After"] = str(max(int((until - timezone.now()).total_seconds()), 1))
    return response
