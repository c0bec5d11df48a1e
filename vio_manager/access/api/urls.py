from rest_framework.routers import SimpleRouter

from vio_manager.access.api import views

router = SimpleRouter()
router.register("tokens", views.TokenViewSet, basename="api-token")
router.register("audit-events", views.AuditEventViewSet, basename="api-audit-event")
urlpatterns = router.urls
