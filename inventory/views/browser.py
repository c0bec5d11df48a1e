"""The inventory browser: datacenter -> clusters -> hosts; datastores; networks; switches."""

from collections import defaultdict

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, render

from inventory import models as m


def _usable_from(through, owner_column: str, vcenter) -> dict[int, list[str]]:
    """{datastore or network id: names of the clusters whose every host reaches it}: name pairs
    only, since thousands of relation rows would otherwise each become a Cluster object."""
    names = defaultdict(list)
    owner = owner_column.removesuffix("_id")
    rows = through.objects.filter(**{f"{owner}__vcenter": vcenter}).order_by("cluster__name")
    for owner_id, cluster_name in rows.values_list(owner_column, "cluster__name"):
        names[owner_id].append(cluster_name)
    return names


def vcenter_inventory(request, pk):
    vcenter = get_object_or_404(m.VCenter, pk=pk)
    hosts = Prefetch("hosts", queryset=m.Host.objects.order_by("name"))
    datacenters = list(
        m.Datacenter.objects.filter(vcenter=vcenter).order_by("name").prefetch_related(
            Prefetch("clusters", queryset=m.Cluster.objects.order_by("name").prefetch_related(hosts)),
            Prefetch("datastores", queryset=m.Datastore.objects.order_by("name")),
            Prefetch("networks", queryset=m.Network.objects.order_by("name").select_related("switch")),
            Prefetch("switches", queryset=m.DistributedSwitch.objects.order_by("name")),
        )
    )
    datastore_clusters = _usable_from(m.Datastore.clusters.through, "datastore_id", vcenter)
    network_clusters = _usable_from(m.Network.clusters.through, "network_id", vcenter)
    for datacenter in datacenters:
        for datastore in datacenter.datastores.all():
            datastore.usable_from = datastore_clusters.get(datastore.pk, [])
        for network in datacenter.networks.all():
            network.usable_from = network_clusters.get(network.pk, [])
    templates = m.VmTemplate.objects.filter(vcenter=vcenter).order_by("name")
    return render(request, "inventory/vcenter_inventory.html",
                  {"vcenter": vcenter, "datacenters": datacenters, "templates": templates})
