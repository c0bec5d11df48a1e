from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
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
    # The schema is API (401/403 without credentials); the docs are pages (login redirect).
    path("api/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", login_required(RedocView.as_view(url_name="api-schema")), name="api-redoc"),
]

# Under /api/ these answer JSON in the API's error shape; elsewhere Django's pages.
handler400 = "vio_manager.api.errors.bad_request"
handler403 = "vio_manager.api.errors.permission_denied"
handler404 = "vio_manager.api.errors.page_not_found"
handler500 = "vio_manager.api.errors.server_error"
