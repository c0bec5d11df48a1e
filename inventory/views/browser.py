"""The inventory browser: datacenter -> clusters -> hosts; datastores; networks; switches."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render

from inventory import models as m


def vcenter_inventory(request, pk):
    vcenter = get_object_or_404(m.VCenter, pk=pk)
    hosts = Prefetch("hosts", queryset=m.Host.objects.order_by("name"))
    datacenters = (
        m.Datacenter.objects.filter(vcenter=vcenter).order_by("name").prefetch_related(
            Prefetch("clusters", queryset=m.Cluster.objects.order_by("name").prefetch_related(hosts)),
            Prefetch("datastores", queryset=m.Datastore.objects.order_by("name").prefetch_related(
                Prefetch("clusters", queryset=m.Cluster.objects.only("id", "name")))),
            Prefetch("networks", queryset=m.Network.objects.order_by("name").select_related("switch").prefetch_related(
                Prefetch("clusters", queryset=m.Cluster.objects.only("id", "name")))),
            Prefetch("switches", queryset=m.DistributedSwitch.objects.order_by("name")),
        )
    )
    templates = m.VmTemplate.objects.filter(vcenter=vcenter).order_by("name")
    return render(request, "inventory/vcenter_inventory.html",
                  {"vcenter": vcenter, "datacenters": datacenters, "templates": templates})
