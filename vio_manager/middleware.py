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


# --- security headers on every response from a view --------------------------------------------

# Everything the pages load comes from the appliance itself: no inline script or style (every
# script is a file under static/js/, every style in static/css/vio.css), no plugins, no framing, forms
# post only back here. img-src allows data: for the SVG and icon data URLs browsers build; the API
# docs (vio_manager.api.docs) set a policy of their own, which is kept.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
])


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every page (unless the view set its own), and
    `Cache-Control: no-store` on everything an authenticated user is answered and on every API
    answer: what a signed-in person saw is not kept by the browser or a proxy after they log out.
    Static files are answered by WhiteNoise before this and keep their long-lived caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        user = getattr(request, "user", None)
        if request.path_info.startswith("/api/") or (user is not None and user.is_authenticated):
            if "no-store" not in response.get("Cache-Control", ""):
                response["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response
