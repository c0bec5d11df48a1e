"""What the kolla bundle needs from vCenter and NSX besides the spec: managed-object ids, user names and CA
certificates. `render_bundle` reads only this (no database); `facts_from_inventory` fills it from the synced
inventory."""

from dataclasses import dataclass, field


class KollaBundleError(ValueError):
    """The spec refers to something the facts do not know (not synced, renamed, wrong datacenter)."""


@dataclass(frozen=True)
class KollaFacts:
    vcenter_username: str
    datacenter_moid: str
    cluster_moids: dict[str, str] = field(default_factory=dict)  # cluster name -> domain-c… / clustercomputeresource-…
    cluster_resource_pools: dict[str, str] = field(default_factory=dict)  # cluster name -> its root resgroup-…
    datastore_moids: dict[str, str] = field(default_factory=dict)  # datastore name -> datastore-…
    network_moids: dict[str, str] = field(default_factory=dict)  # port group name -> dvportgroup-… / network-…
    switch_moids: dict[str, str] = field(default_factory=dict)  # distributed switch name -> dvs-…
    vcenter_ca_pem: str = ""  # the certificate (or CA) the services trust for vCenter; "" = not known yet
    nsx_username: str = ""
    nsx_ca_pem: str = ""
    transport_zone_id: str = ""  # vdnscope-…
    edge_datastore_moid: str = ""  # where NSX puts edge appliances
    ldap_ca_pem: str = ""
    management_interface: str = "ens192"  # first vmxnet3 NIC of the Ubuntu appliance
    external_interface: str = "ens224"  # second NIC: external network (lb, control) or data trunk (dhcp)

    def moid(self, kind: str, name: str) -> str:
        table = {"cluster": self.cluster_moids, "datastore": self.datastore_moids, "port group": self.network_moids,
                 "distributed switch": self.switch_moids, "resource pool of cluster": self.cluster_resource_pools}[kind]
        value = table.get(name)
        if not value:
            raise KollaBundleError(f"{kind} '{name}' is not in the synced inventory of the datacenter; sync the vCenter "
                                   "and check the name")
        return value


def facts_from_inventory(spec, vcenter_id: int, *, nsx_manager_id: int | None = None, vcenter_ca_pem: str = "",
                         nsx_ca_pem: str = "") -> KollaFacts:
    """Facts for `spec` from the synced inventory of vCenter `vcenter_id` (only its spec.datacenter). The CA
    certificates are not stored by the sync: pass the pinned certificates' PEM when they are known."""
    from inventory import models as m

    vcenter = m.VCenter.objects.get(pk=vcenter_id)
    datacenter = m.Datacenter.objects.filter(vcenter=vcenter, name=spec.datacenter).first()
    if datacenter is None:
        raise KollaBundleError(f"datacenter '{spec.datacenter}' is not in the synced inventory of {vcenter}")

    def names(model):
        return {row.name: row.moid for row in model.objects.filter(vcenter=vcenter, datacenter=datacenter).order_by("moid")}

    clusters = m.Cluster.objects.filter(vcenter=vcenter, datacenter=datacenter)
    extra: dict = {}
    if spec.neutron.mode == "nsx":
        nsx = spec.neutron.nsx
        managers = m.NsxManager.objects.filter(vcenter=vcenter)
        manager = (managers.filter(pk=nsx_manager_id) if nsx_manager_id else
                   managers.filter(host=nsx.manager.host, port=nsx.manager.port)).first()
        if manager is None:
            raise KollaBundleError(f"NSX Manager {nsx.manager.host}:{nsx.manager.port} is not registered with {vcenter}")
        zones = m.NsxTransportZone.objects.filter(manager=manager)
        zone = zones.filter(object_id=nsx.transport_zone).first() or zones.filter(name=nsx.transport_zone).first()
        if zone is None:
            raise KollaBundleError(f"transport zone '{nsx.transport_zone}' is not known to NSX Manager {manager}")
        edge_cluster = clusters.filter(name=nsx.edge_cluster).first()
        edge_datastore = ""
        if edge_cluster is not None:
            mounted = {ds.name: ds.moid for ds in edge_cluster.datastores.all()}
            chosen = next((name for name in spec.management_datastores if name in mounted), None)
            edge_datastore = mounted[chosen] if chosen else ""
        if not edge_datastore:
            edge_datastore = names(m.Datastore).get(spec.management_datastores[0], "")
        extra = dict(nsx_username=manager.username, nsx_ca_pem=nsx_ca_pem, transport_zone_id=zone.object_id,
                     edge_datastore_moid=edge_datastore)
    return KollaFacts(
        vcenter_username=vcenter.username,
        datacenter_moid=datacenter.moid,
        cluster_moids={c.name: c.moid for c in clusters.order_by("moid")},
        cluster_resource_pools={c.name: c.resource_pool_moid for c in clusters.order_by("moid") if c.resource_pool_moid},
        datastore_moids=names(m.Datastore),
        network_moids=names(m.Network),
        switch_moids=names(m.DistributedSwitch),
        vcenter_ca_pem=vcenter_ca_pem,
        **extra,
    )
