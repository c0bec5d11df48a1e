from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, login_required
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from vio_manager import views
from vio_manager.api.docs import RedocView, SchemaView, SwaggerView

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("inventory.urls")),
    path("", include("deployments.urls")),
    path("", include("vio_manager.access.urls")),
    path("api/v1/", views.api_root, name="api-root"),
    path("api/v1/health/", views.api_health, name="api-health"),
    path("api/v1/", include("inventory.api.urls")),
    path("api/v1/", include("deployments.api.urls")),
    path("api/v1/", include("vio_manager.access.api.urls")),
    # For users with a role, as the API: the schema answers 401/403 (JSON); the docs are pages (anonymous:
    # the login page; a signed-in account without a role: 403).
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", login_required(RedocView.as_view(url_name="api-schema")), name="api-redoc"),
    # Browsers ask for /favicon.ico on pages that name none (a JSON answer, the API docs).
    path("favicon.ico", login_not_required(lambda request: HttpResponsePermanentRedirect(static("favicon.svg"))),
         name="favicon"),
]

# Under /api/ these answer JSON in the API's error shape; elsewhere Django's pages.
handler400 = "vio_manager.api.errors.bad_request"
handler403 = "vio_manager.api.errors.permission_denied"
handler404 = "vio_manager.error_pages.page_not_found"  # styled, with the navigation
handler500 = "vio_manager.error_pages.server_error"
