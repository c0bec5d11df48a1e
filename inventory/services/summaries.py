"""Read-only summaries for pages."""

from inventory import models as m


def inventory_counts(vcenter) -> dict:
    return {
        "datacenters": m.Datacenter.objects.filter(vcenter=vcenter).count(),
        "clusters": m.Cluster.objects.filter(vcenter=vcenter).count(),
        "hosts": m.Host.objects.filter(vcenter=vcenter).count(),
        "datastores": m.Datastore.objects.filter(vcenter=vcenter).count(),
        "networks": m.Network.objects.filter(vcenter=vcenter).count(),
        "switches": m.DistributedSwitch.objects.filter(vcenter=vcenter).count(),
        "templates": m.VmTemplate.objects.filter(vcenter=vcenter).count(),
    }


def nsx_summary(manager) -> dict:
    from inventory.services.nsx_checks import meets_minimum_version

    clusters = {c.moid: c.name for c in m.Cluster.objects.filter(vcenter_id=manager.vcenter_id)}
    fabric = [
        {"cluster": clusters.get(moid, moid), "moid": moid, "features": features}
        for moid, features in sorted(manager.fabric.items(), key=lambda item: clusters.get(item[0], item[0]))
    ]
    return {
        "transport_zones": m.NsxTransportZone.objects.filter(manager=manager),
        "edges": m.NsxEdge.objects.filter(manager=manager),
        "controllers": m.NsxController.objects.filter(manager=manager),
        "fabric": fabric,
        "cluster_names": clusters,
        "version_ok": meets_minimum_version(manager.version) if manager.version else None,
    }
