from django.urls import path
from rest_framework.routers import SimpleRouter

from inventory.api import views

router = SimpleRouter()
router.register("vcenters", views.VCenterViewSet, basename="api-vcenter")
router.register("nsx-managers", views.NsxManagerViewSet, basename="api-nsx-manager")

# One URL per kind, so each has its own documented answer; an unknown kind is a 404.
urlpatterns = router.urls + [
    path("vcenters/<int:vcenter_pk>/inventory/", views.InventoryRootView.as_view(), name="api-vcenter-inventory"),
    path("vcenters/<int:vcenter_pk>/inventory/live/", views.LivenessView.as_view(), name="api-vcenter-inventory-live"),
    path("vcenters/<int:vcenter_pk>/inventory/vms/", views.VmListView.as_view(), name="api-vcenter-inventory-vms"),
] + [
    path(f"vcenters/<int:vcenter_pk>/inventory/{kind}/", views.InventoryListView.as_view(kind=kind),
         name=f"api-vcenter-inventory-{kind}")
    for kind in views.INVENTORY if kind != "vms"
] + [
    path(f"nsx-managers/<int:manager_pk>/{kind}/", views.NsxObjectsView.as_view(kind=kind), name=f"api-nsx-manager-{kind}")
    for kind in views.NsxObjectsView.KINDS
]
