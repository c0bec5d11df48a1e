from django.urls import path, register_converter

from inventory.views import browser, endpoints, vms


class EndpointKind:
    regex = "vcenters|nsx-managers"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(EndpointKind, "endpoint_kind")
kinds = "<endpoint_kind:kind>"
urlpatterns = [
    path(f"{kinds}/", endpoints.endpoint_list, name="endpoint-list"),
    path(f"{kinds}/add/", endpoints.endpoint_add, name="endpoint-add"),
    path(f"{kinds}/<int:pk>/", endpoints.endpoint_detail, name="endpoint-detail"),
    path(f"{kinds}/<int:pk>/certificate/", endpoints.endpoint_certificate, name="endpoint-certificate"),
    path(f"{kinds}/<int:pk>/test/", endpoints.endpoint_test, name="endpoint-test"),
    path(f"{kinds}/<int:pk>/sync/", endpoints.endpoint_sync, name="endpoint-sync"),
    path(f"{kinds}/<int:pk>/edit/", endpoints.endpoint_edit, name="endpoint-edit"),
    path(f"{kinds}/<int:pk>/delete/", endpoints.endpoint_delete, name="endpoint-delete"),
    path("vcenters/<int:pk>/inventory/", browser.vcenter_inventory, name="vcenter-inventory"),
    path("vcenters/<int:pk>/inventory/vms/", vms.vcenter_vms, name="vcenter-vms"),
]
