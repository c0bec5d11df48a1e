from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import path

from vio_manager import views

# API views are exempt from the login redirect: DRF answers 401/403 in JSON itself, and its
# DEFAULT_PERMISSION_CLASSES require an authenticated user on every endpoint.
api = login_not_required

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", api(views.api_root), name="api-root"),
    path("api/v1/health/", api(views.api_health), name="api-health"),
]
