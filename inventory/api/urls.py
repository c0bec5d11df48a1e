from django.urls import path
from rest_framework.routers import SimpleRouter

from inventory.api import views

router = SimpleRouter()
router.register("vcenters", views.VCenterViewSet, basename="api-vcenter")
router.register("nsx-managers", views.NsxManagerViewSet, basename="api-nsx-manager")

urlpatterns = router.urls + [
    path("vcenters/<int:vcenter_pk>/inventory/", views.InventoryRootView.as_view(), name="api-vcenter-inventory"),
    path("vcenters/<int:vcenter_pk>/inventory/<slug:kind>/", views.InventoryListView.as_view(), name="api-vcenter-inventory-list"),
] + [
    path(f"nsx-managers/<int:manager_pk>/{kind}/", views.NsxObjectsView.as_view(), {"kind": kind}, name=f"api-nsx-manager-{kind}")
    for kind in views.NsxObjectsView.KINDS
]
