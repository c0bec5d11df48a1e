"""API tokens: made here, shown once, stored as SHA-256, looked up by that hash in one query.

A token is 32 random bytes (URL-safe base64): far beyond guessing, so a plain SHA-256 (not a slow
password hash) is the right tool and keeps authentication cheap on the polling hot path.
"""

import hashlib
import secrets
from datetime import timedelta
from functools import cache

from django.contrib.auth import get_user_model
from django.db import router
from django.db.models import Q
from django.utils import timezone

from vio_manager.access.models import ApiToken
from vio_manager.access.roles import RANK, ROLES
from vio_manager.rows import Columns, Statement

PREFIX_LENGTH = 8
# last_used_at is written at most this often per token: polling stays a single read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


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
    """False when it was revoked already."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    return True


@cache
def _lookup(using: str) -> Statement:
    """The token, its user and the user's highest role in one statement, written once (the ORM
    would compile this join and subquery again on every API request: most of a poll's time)."""
    user_model = get_user_model()
    membership = user_model._meta.get_field("groups").remote_field.through
    group = membership._meta.get_field("group").related_model
    token, user = Columns(ApiToken, "t"), Columns(user_model, "u")

    def render(q):
        def col(model, name):
            return q(model._meta.get_field(name).column)

        name = f"g.{col(group, 'name')}"
        rank = " ".join(f"WHEN %s THEN {RANK[role]}" for role in ROLES)
        role = (f"SELECT {name} FROM {q(group._meta.db_table)} g INNER JOIN {q(membership._meta.db_table)} m"
                f" ON m.{col(membership, 'group')} = g.{col(group, 'id')}"
                f" WHERE m.{col(membership, user_model._meta.model_name)} = t.{col(ApiToken, 'user')}"
                f" AND {name} IN ({', '.join(['%s'] * len(ROLES))}) ORDER BY CASE {name} {rank} END DESC LIMIT 1")
        return (f"SELECT {token.sql(q)}, {user.sql(q)}, ({role})"
                f" FROM {q(ApiToken._meta.db_table)} t INNER JOIN {q(user_model._meta.db_table)} u"
                f" ON u.{col(user_model, user_model._meta.pk.name)} = t.{col(ApiToken, 'user')}"
                f" WHERE t.{col(ApiToken, 'key_hash')} = %s")

    return Statement(using, [token, user], render)


def _find(key_hash: str) -> ApiToken | None:
    found = _lookup(router.db_for_read(ApiToken)).fetch([*ROLES, *ROLES, key_hash])
    if found is None:
        return None
    (token, user), (role,) = found
    token.user, token.user_role = user, role
    return token


def authenticate(value: str) -> ApiToken:
    """The token with this value, its user and the user's role (one query), or TokenRefused.
    Touches last_used_at at most once a minute."""
    token = _find(digest(value))
    if token is None:
        raise TokenRefused("invalid_token", "The API token is not valid.")
    if token.revoked_at is not None:
        raise TokenRefused("token_revoked", "This API token was revoked; create a new one.")
    if token.is_expired:
        raise TokenRefused("token_expired", "This API token has expired; create a new one.")
    if not token.user.is_active:
        raise TokenRefused("user_inactive", "The account of this API token is disabled.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional, so a burst of parallel requests writes once.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)).update(last_used_at=now)
        token.last_used_at = now
    return token
