from django.contrib.auth import views as auth_views
from django.urls import include, path

from vio_manager import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("inventory.urls")),
    path("", include("deployments.urls")),
    path("api/v1/", views.api_root, name="api-root"),
    path("api/v1/health/", views.api_health, name="api-health"),
    path("api/v1/", include("inventory.api.urls")),
    path("api/v1/", include("deployments.api.urls")),
]
