"""The audit log: every change, who made it, when, from which address, through which door.

Views, viewsets and commands record right after the service call succeeded:
    audit.record(request, "vcenter.update", vcenter, {"fields": ["name"]})
`request` may be a Django or DRF request, or an Actor (the command line: Actor.cli(user)).
The detail never holds secrets: keys that name one are dropped before anything is stored.
"""

import ipaddress
import logging
from dataclasses import dataclass

from django.conf import settings

from vio_manager.access.models import AuditEvent, Via

log = logging.getLogger("vio_manager.audit")

# model name -> the noun of its actions ("vcenter.create", "template.delete")
NOUNS = {"vcenter": "vcenter", "nsxmanager": "nsx_manager", "deployment": "deployment",
         "deploymenttemplate": "template", "apitoken": "token", "user": "user"}
SECRET_WORDS = ("password", "secret", "token", "passwd")


@dataclass(frozen=True)
class Actor:
    user: object | None
    username: str
    ip_address: str | None
    via: str
    credential: str = ""  # "token <prefix>" when an API token made the change; the shell user on the CLI

    @classmethod
    def from_request(cls, request, user=None) -> "Actor":
        user = user if user is not None else getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            user = None
        auth = getattr(request, "auth", None)  # DRF: the ApiToken the request authenticated with
        return cls(user=user, username=user.get_username() if user else "", ip_address=client_ip(request),
                   via=Via.API if request.path_info.startswith("/api/") else Via.BROWSER,
                   credential=f"token {auth.prefix}" if hasattr(auth, "prefix") else "")

    @classmethod
    def cli(cls, user=None) -> "Actor":
        """manage.py on the appliance: the shell account is who, when no user is named."""
        import getpass

        try:
            shell = getpass.getuser()
        except (OSError, KeyError):
            shell = "unknown"
        return cls(user=user, username=user.get_username() if user else "", ip_address=None, via=Via.CLI,
                   credential=f"shell user {shell}")


@dataclass(frozen=True)
class Target:
    type: str
    id: str
    label: str

    @classmethod
    def of(cls, instance) -> "Target":
        """Take this before deleting the instance: afterwards its pk is gone."""
        return cls(noun(instance), str(instance.pk or ""), str(instance)[:255])


def noun(instance_or_model) -> str:
    name = instance_or_model._meta.model_name
    return NOUNS.get(name, name)


def client_ip(request) -> str | None:
    """REMOTE_ADDR; behind a reverse proxy (VIO_TRUST_X_FORWARDED_FOR), the address that proxy
    appended last to X-Forwarded-For: the entries before it are whatever the client sent."""
    meta = request.META
    address = meta.get("REMOTE_ADDR") or None
    if getattr(settings, "VIO_TRUST_X_FORWARDED_FOR", False) and meta.get("HTTP_X_FORWARDED_FOR"):
        address = meta["HTTP_X_FORWARDED_FOR"].split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None


def scrub(value):
    """The detail without any key that names a secret, at any depth."""
    if isinstance(value, dict):
        return {str(k): scrub(v) for k, v in value.items() if not any(w in str(k).lower() for w in SECRET_WORDS)}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def record(who, action: str, target=None, detail: dict | None = None, *, username: str = "") -> AuditEvent:
    """Store one event. `who`: a request or an Actor; `target`: a model instance, a Target, or None;
    `username`: the name typed, for a failed login (no user)."""
    actor = who if isinstance(who, Actor) else Actor.from_request(who)
    if target is not None and not isinstance(target, Target):
        target = Target.of(target)
    detail = scrub(detail or {})
    if actor.credential:
        detail["credential"] = actor.credential
    event = AuditEvent.objects.create(
        user=actor.user, username=(actor.username or username)[:150], ip_address=actor.ip_address, via=actor.via,
        action=action, target_type=target.type if target else "", target_id=target.id if target else "",
        target_label=target.label if target else "", detail=detail)
    log.info("audit %s by %s from %s via %s: %s", action, event.username or "-", event.ip_address or "-", event.via,
             event.target_label or "-")
    return event


def events(*, action: str = "", username: str = "", since=None, until=None):
    """The log, newest first. `action` is one action (vcenter.update) or a noun (vcenter: all of
    its actions); `since` and `until` are datetimes (until excluded)."""
    from django.db.models import Q

    queryset = AuditEvent.objects.select_related("user").order_by("-created_at", "-id")
    if action:
        queryset = queryset.filter(Q(action=action) | Q(action__startswith=action + ".")) if "." not in action \
            else queryset.filter(action=action)
    if username:
        queryset = queryset.filter(username=username)
    if since:
        queryset = queryset.filter(created_at__gte=since)
    if until:
        queryset = queryset.filter(created_at__lt=until)
    return queryset


def parse_moment(value: str, *, end: bool = False):
    """An ISO date-time, or a date: its start (or, with end=True, the start of the next day), UTC.
    None for an empty value (and for the end of 9999-12-31: no bound); ValueError for anything else."""
    from datetime import datetime, time, timedelta, timezone as tz

    from django.utils.dateparse import parse_date, parse_datetime

    value = (value or "").strip()
    if not value:
        return None
    # A date first: parse_datetime takes "2025-01-31" too (as its midnight), which would leave the day
    # out of `until`.
    day = parse_date(value) if len(value) == 10 else None
    if day is None:
        moment = parse_datetime(value)
        if moment is None:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 date and time.")
        try:  # in UTC, as the database compares: the first and last hours of years 1 and 9999 have none
            return moment.astimezone(tz.utc) if moment.tzinfo else moment.replace(tzinfo=tz.utc)
        except OverflowError:
            raise ValueError(f"{value!r} is beyond the dates that can be stored.") from None
    if end:
        try:
            day += timedelta(days=1)
        except OverflowError:  # until 9999-12-31: no end at all
            return None
    return datetime.combine(day, time.min, tzinfo=tz.utc)
