from rest_framework.routers import SimpleRouter

from deployments.api import views

router = SimpleRouter()
router.register("deployments", views.DeploymentViewSet, basename="api-deployment")
router.register("templates", views.TemplateViewSet, basename="api-template")
urlpatterns = router.urls
