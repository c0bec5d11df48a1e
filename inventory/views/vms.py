"""The VMs page of a vCenter: one page of VMs at a time (never a 40,000-row table), filtered as
the API's list is (the same query: inventory.api.views.vm_queryset)."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from inventory import models as m
from inventory.api.responses import VmFilterSerializer
from inventory.api.views import vm_queryset
from inventory.services.live import one_snapshot

PAGE_SIZE = 100


def vcenter_vms(request, pk):
    with one_snapshot():  # the count, the rows and the host names from one picture
        return _vcenter_vms(request, pk)


def _vcenter_vms(request, pk):
    vcenter = get_object_or_404(m.VCenter, pk=pk)
    filters = VmFilterSerializer(data={k: v for k, v in request.GET.items() if v != "" and k != "page"})
    params = filters.validated_data if filters.is_valid() else {}
    page = Paginator(vm_queryset(vcenter, params), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    clusters = m.Cluster.objects.filter(vcenter=vcenter).order_by("name").values_list("moid", "name")
    page.object_list = list(page.object_list)
    hosts = dict(m.Host.objects.filter(vcenter=vcenter, moid__in={vm.host_moid for vm in page.object_list})
                 .values_list("moid", "name"))
    for vm in page.object_list:
        vm.host_name = hosts.get(vm.host_moid, vm.host_moid)
    return render(request, "inventory/vcenter_vms.html", {
        "vcenter": vcenter, "page": page, "filters": request.GET, "errors": filters.errors,
        "query": query.urlencode(), "clusters": clusters, "power_states": ["poweredOn", "poweredOff", "suspended"],
    })
