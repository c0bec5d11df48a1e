from django.contrib.auth.middleware import LoginRequiredMiddleware


class LoginRequiredForPagesMiddleware(LoginRequiredMiddleware):
    """Every page redirects anonymous users to the login page. The API is left to DRF, whose
    DEFAULT_PERMISSION_CLASSES require authentication on every endpoint and answer 401/403 in
    JSON instead of redirecting a script to an HTML form."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        response = super().process_view(request, view_func, view_args, view_kwargs)
        if response is None and request.user.is_authenticated and getattr(view_func, "login_required", True):
            _require_a_role(request)
        return response


def _require_a_role(request) -> None:
    """A signed-in account in no role group sees nothing but the way out (log out)."""
    from django.core.exceptions import PermissionDenied

    from vio_manager.access.roles import role_of

    if role_of(request.user) is None and request.resolver_match.url_name != "logout":
        raise PermissionDenied("Your account has no role (admin, operator or viewer): ask an administrator for one.")
