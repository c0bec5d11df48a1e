from django.contrib.auth.middleware import LoginRequiredMiddleware


class LoginRequiredForPagesMiddleware(LoginRequiredMiddleware):
    """Every page redirects anonymous users to the login page. The API is left to DRF, whose
    DEFAULT_PERMISSION_CLASSES require authentication on every endpoint and answer 401/403 in
    JSON instead of redirecting a script to an HTML form."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
