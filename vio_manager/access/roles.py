"""Roles: admin (everything), operator (deploy, retry, cancel; no credential management), viewer
(read-only). Each is a Django group made by a migration; a superuser is an admin. A user in no
role group has no access at all."""

ADMIN = "admin"
OPERATOR = "operator"
VIEWER = "viewer"
ROLES = (ADMIN, OPERATOR, VIEWER)  # highest first
RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}

# Where the user's role is kept for the rest of a request (token authentication sets it from
# the same query that found the token, so a polled API request costs one query).
_CACHE = "_vio_role"


def role_of(user) -> str | None:
    """The user's highest role, or None (anonymous, inactive, or in no role group)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if not hasattr(user, _CACHE):
        if user.is_superuser:
            role = ADMIN
        else:
            names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
            role = next((name for name in ROLES if name in names), None)
        setattr(user, _CACHE, role)
    return getattr(user, _CACHE)


def remember_role(user, role: str | None) -> None:
    setattr(user, _CACHE, ADMIN if user.is_superuser else role)


def has_role(user, role: str) -> bool:
    """At least `role` (admin > operator > viewer)."""
    mine = role_of(user)
    return mine is not None and RANK[mine] >= RANK[role]


def set_role(user, role: str) -> None:
    """Put the user in exactly this role group."""
    from django.contrib.auth.models import Group

    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.")
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    if hasattr(user, _CACHE):
        delattr(user, _CACHE)
