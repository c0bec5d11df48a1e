"""The role every API request needs: viewer to read, operator to change, unless the view says
otherwise with `read_role` / `write_role` (a class attribute, or per action: @action(write_role=...))."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from vio_manager.access.roles import OPERATOR, VIEWER, has_role, role_of


def required_role(request, view) -> str:
    if request.method in SAFE_METHODS:
        return getattr(view, "read_role", None) or VIEWER
    return getattr(view, "write_role", None) or OPERATOR


class RolePermission(BasePermission):
    code = "permission_denied"

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False  # DRF answers 401: no (valid) credentials were sent
        needed = required_role(request, view)
        if has_role(user, needed):
            return True
        mine = role_of(user)
        self.message = f"This needs the {needed} role; your account has {'the ' + mine + ' role' if mine else 'no role'}."
        return False
