from rest_framework.routers import SimpleRouter

from deployments.api import views
from deployments.api.appliance import ApplianceUploadViewSet

router = SimpleRouter()
router.register("deployments", views.DeploymentViewSet, basename="api-deployment")
router.register("templates", views.TemplateViewSet, basename="api-template")
router.register("appliance-uploads", ApplianceUploadViewSet, basename="api-appliance-upload")
urlpatterns = router.urls
