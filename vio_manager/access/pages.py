"""Roles on the browser pages, the same as the API's: a decorator for function views, a mixin for
class-based ones. A refusal is a 403 page (vio_manager.access.views.forbidden)."""

from functools import wraps

from django.core.exceptions import PermissionDenied

from vio_manager.access.roles import OPERATOR, has_role, role_of

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def check(request, role: str) -> None:
    if not has_role(request.user, role):
        mine = role_of(request.user)
        raise PermissionDenied(f"This needs the {role} role; your account has "
                               f"{'the ' + mine + ' role' if mine else 'no role'}.")


def requires(role: str, *, read: str | None = None):
    """`role` for every request; with `read`, pages only shown (GET) need just that role."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            check(request, read if read and request.method in SAFE_METHODS else role)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class RoleRequiredMixin:
    required_role = OPERATOR

    def dispatch(self, request, *args, **kwargs):
        check(request, self.required_role)
        return super().dispatch(request, *args, **kwargs)
