"""API tokens: made here, shown once, stored as SHA-256, looked up by that hash.

A token is 32 random bytes (URL-safe base64): far beyond guessing, so a plain SHA-256 (not a slow
password hash) is the right tool and keeps authentication cheap on the polling hot path.

The lookup (the token, its user and the user's highest role: one ORM query) is kept in the "tokens"
cache (settings.CACHES: Redis, shared by every process), so a client polling with its token costs
no query for it. Whatever changes a token or its user takes the entry out at once, in every
process: a revoke or any other save of the token, its deletion, a save of the user (disabled,
superuser or not), a change of the user's role groups. An entry lives TOKEN_CACHE_SECONDS at most,
which bounds what a change made behind the models' back (a queryset.update()) can leave.
"""

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.db import router, transaction
from django.db.models import Case, OuterRef, Q, Subquery, Value, When
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from vio_manager.access.models import ApiToken
from vio_manager.access.roles import RANK, ROLES

logger = logging.getLogger(__name__)

PREFIX_LENGTH = 8
# last_used_at is written at most this often per token, when the lookup reads the database (a
# cached lookup writes nothing): polling stays a read, and last_used_at is never more than
# LAST_USED_RESOLUTION + TOKEN_CACHE_SECONDS behind.
LAST_USED_RESOLUTION = timedelta(minutes=1)
TOKEN_CACHE_SECONDS = 60
CACHE = "tokens"  # the alias in settings.CACHES
# What an invalidated entry holds for TOKEN_CACHE_SECONDS: a lookup that read the database before
# the change committed cannot put its stale answer back (entries are only ever add()ed).
GONE = "gone"


class TokenRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def create_token(user, name: str, expires_at=None) -> tuple[ApiToken, str]:
    """The new token and its value; the value exists nowhere else after this returns."""
    value = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name.strip() or "API token", prefix=value[:PREFIX_LENGTH],
                                    key_hash=digest(value), expires_at=expires_at)
    return token, value


def revoke(token: ApiToken) -> bool:
    """False when it was revoked already. It stops working at once (the save takes it out of the cache)."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return True


# --- the lookup and its cache ------------------------------------------------------------------


def _entry_key(key_hash: str) -> str:
    return f"api-token:{key_hash}"


def _cache():
    return caches[CACHE]


def _find(key_hash: str) -> ApiToken | None:
    """The token, its user and the user's highest role (user_role) in one query."""
    user_model = get_user_model()
    membership = user_model.groups.through
    user_column = user_model._meta.model_name  # the membership's foreign key to the user
    role = (membership.objects.filter(**{user_column: OuterRef("user_id")}, group__name__in=ROLES)
            .annotate(rank=Case(*[When(group__name=name, then=Value(RANK[name])) for name in ROLES]))
            .order_by("-rank").values("group__name")[:1])
    return (ApiToken.objects.select_related("user").annotate(user_role=Subquery(role))
            .filter(key_hash=key_hash).first())


def _fields(model, exclude=()) -> list:
    return [field for field in model._meta.concrete_fields if field.name not in exclude]


def _entry(token: ApiToken) -> dict:
    """What the cache keeps: plain values of the token and of its user (never the password hash)."""
    return {"token": [getattr(token, f.attname) for f in _fields(ApiToken)],
            "user": [getattr(token.user, f.attname) for f in _fields(get_user_model(), ("password",))],
            "role": token.user_role}


def _from_entry(entry: dict) -> ApiToken:
    using = router.db_for_read(ApiToken)
    user_model = get_user_model()
    token = ApiToken.from_db(using, [f.attname for f in _fields(ApiToken)], entry["token"])
    # The password is left deferred: read from the database only if something asks for it.
    token.user = user_model.from_db(using, [f.attname for f in _fields(user_model, ("password",))], entry["user"])
    token.user_role = entry["role"]
    return token


def _cached(key_hash: str):
    """The cached entry, GONE (taken out lately: ask the database, keep nothing) or None."""
    try:
        return _cache().get(_entry_key(key_hash))
    except Exception:  # the cache is down: the database answers alone
        logger.warning("API token cache unreachable; looking the token up in the database", exc_info=True)
        return GONE


def _remember(key: str, value, seconds: float) -> bool:
    """add() (never set): an entry taken out meanwhile stays out. False when it was there already."""
    try:
        return _cache().add(key, value, timeout=seconds)
    except Exception:
        logger.warning("API token cache unreachable", exc_info=True)
        return False


def forget(key_hashes) -> None:
    """Take these tokens out of the cache now and again once the current transaction commits (a
    lookup between the two reads the committed change)."""
    keys = [_entry_key(key_hash) for key_hash in key_hashes]
    if not keys:
        return

    def drop():
        try:
            _cache().set_many(dict.fromkeys(keys, GONE), timeout=TOKEN_CACHE_SECONDS)
        except Exception:  # the entries expire by themselves within TOKEN_CACHE_SECONDS
            logger.error("API token cache unreachable: %d changed token(s) may work on for up to %d s",
                         len(keys), TOKEN_CACHE_SECONDS, exc_info=True)

    drop()
    transaction.on_commit(drop, robust=True)


def forget_users(user_ids) -> None:
    forget(ApiToken.objects.filter(user_id__in=list(user_ids)).values_list("key_hash", flat=True))


def authenticate(value: str) -> ApiToken:
    """The token with this value, its user and the user's role (the cache, else one query), or
    TokenRefused. Touches last_used_at at most once a minute."""
    key_hash = digest(value)
    entry = _cached(key_hash)
    if isinstance(entry, dict):
        token, from_database = _from_entry(entry), False
    else:
        token, from_database = _find(key_hash), True
        if token is None:
            raise TokenRefused("invalid_token", "The API token is not valid.")
        if entry is None:
            _remember(_entry_key(key_hash), _entry(token), TOKEN_CACHE_SECONDS)
    if token.revoked_at is not None:
        raise TokenRefused("token_revoked", "This API token was revoked; create a new one.")
    if token.is_expired:
        raise TokenRefused("token_expired", "This API token has expired; create a new one.")
    if not token.user.is_active:
        raise TokenRefused("user_inactive", "The account of this API token is disabled.")
    now = timezone.now()
    if from_database and (token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION):
        # Conditional, so a burst of parallel requests (or processes) writes once.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- what takes entries out --------------------------------------------------------------------


@receiver(post_save, sender=ApiToken, dispatch_uid="api-token-saved")
def _token_saved(sender, instance, created, update_fields=None, **kwargs):
    if not created and set(update_fields or ()) != {"last_used_at"}:
        forget([instance.key_hash])


@receiver(post_delete, sender=ApiToken, dispatch_uid="api-token-deleted")
def _token_deleted(sender, instance, **kwargs):
    forget([instance.key_hash])


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="api-token-user-saved")
def _user_saved(sender, instance, created, update_fields=None, **kwargs):
    # Every login saves last_login alone: nothing a token depends on.
    if not created and set(update_fields or ()) != {"last_login"}:
        forget_users([instance.pk])


@receiver(m2m_changed, dispatch_uid="api-token-user-groups")
def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if sender is not get_user_model().groups.through or action not in ("post_add", "post_remove", "pre_clear"):
        return
    if not reverse:  # user.groups.add(...)
        forget_users([instance.pk])
    elif pk_set:  # group.user_set.add(user, ...)
        forget_users(pk_set)
    else:  # group.user_set.clear(): every member
        forget_users(instance.user_set.values_list("pk", flat=True))


@receiver(post_save, sender=Group, dispatch_uid="api-token-group-saved")
@receiver(post_delete, sender=Group, dispatch_uid="api-token-group-deleted")
def _group_changed(sender, instance, created=False, **kwargs):
    # A renamed or deleted role group changes the role of each of its members (deleting it drops
    # the memberships without an m2m signal, so the members are unknown by now: all tokens go).
    if not created:
        forget(ApiToken.objects.values_list("key_hash", flat=True))
