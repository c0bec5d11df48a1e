"""A valid spec for the simulators' VIO inventory, and the vCenter and NSX Manager registered as an
administrator does it (register, accept the certificate, sync). Django must be set up before these
are called (not before this module is imported)."""

import copy

# The advisory warning valid_spec() raises ("localhost" is not the public VIP), acknowledged.
ACKNOWLEDGED = "hostname_other_address@load_balancer.public_hostname"


def valid_spec(vcsim, *, mode: str = "dvs", nsxv=None) -> dict:
    """An HA spec that passes every check against the simulator `vcsim` (anything with .host and
    .port); mode="nsx" uses the NSX-v emulator `nsxv`. A fresh copy on every call."""
    spec = {
        "schema_version": 1,
        "name": "cloud1",
        "topology": "ha",
        "vcenter": {"host": vcsim.host, "port": vcsim.port},
        "datacenter": "VIO-Datacenter",
        "management_cluster": "Management",
        "management_datastores": ["vio-shared-nfs"],
        "management_network": {
            "portgroup": "VIO-Management", "ip_ranges": [{"start": "10.20.0.10", "end": "10.20.0.40"}],
            "netmask": "255.255.255.0", "gateway": "10.20.0.1", "dns_servers": ["10.20.0.2"],
        },
        "external_network": {
            "portgroup": "VIO-External", "ip_ranges": [{"start": "192.0.2.10", "end": "192.0.2.20"}],
            "netmask": "255.255.255.0", "gateway": "192.0.2.1", "dns_servers": [],
        },
        # "localhost" resolves from /etc/hosts: no DNS query leaves the machine in tests.
        "load_balancer": {"public_vip": "192.0.2.5", "public_hostname": "localhost"},
        "compute_clusters": [{"cluster": "Compute-A", "datastores": ["vio-compute-nfs"]}],
        "glance_datastore": "vio-shared-nfs",
        "neutron": {"mode": "dvs", "dvs": {"switch": "VIO-DSwitch", "trunk_portgroup": "VIO-Data-Trunk"}},
        "keystone": {"admin_user": "admin", "admin_password": "Secret-Admin-1", "admin_project": "admin", "backend": "sql"},
        "syslog": {"host": "localhost", "port": 514, "protocol": "udp"},
        "appliance_ova": {"url": "https://127.0.0.1:8443/vio-appliance.ova"},
    }
    if mode == "nsx":
        spec["neutron"] = {"mode": "nsx", "nsx": {
            "manager": {"host": nsxv.host, "port": nsxv.port}, "transport_zone": "vdnscope-1",
            "edge_cluster": "Edge", "vds": "VIO-DSwitch", "external_portgroup": "VIO-External"}}
    return copy.deepcopy(spec)


def spec_for(vcsim, name: str, topology: str, ova_url: str) -> dict:
    """valid_spec() named `name`, of this topology ("ha" or "compact"), its appliance OVA at `ova_url`."""
    data = valid_spec(vcsim)
    data.update(name=name, topology=topology, appliance_ova={"url": ova_url})
    return data


def registered_vcenter(vcsim, name="vc"):
    """The simulator's vCenter, registered, pinned and synced (the row already there is reused)."""
    from inventory import models as m
    from inventory.services import endpoints, sync

    vcenter = m.VCenter.objects.filter(host=vcsim.host, port=vcsim.port).first()
    if vcenter is None:
        vcenter = endpoints.register(m.VCenter, name=name, host=vcsim.host, port=vcsim.port,
                                     username=vcsim.username, password=vcsim.password)
        vcenter = endpoints.accept_certificate(vcenter, vcsim.fingerprint)
        m.VCenter.objects.filter(pk=vcenter.pk).update(sync_state="idle")
    record = sync.sync_vcenter(vcenter.pk)
    assert record is not None and record.ok, f"the sync of {vcsim.host}:{vcsim.port} failed: {record and record.error}"
    return m.VCenter.objects.get(pk=vcenter.pk)


def registered_nsx(nsxv, vcenter, name="nsx"):
    """The NSX-v emulator, registered against `vcenter`, pinned and synced."""
    from inventory import models as m
    from inventory.services import endpoints, sync

    manager = endpoints.register(m.NsxManager, name=name, host=nsxv.host, port=nsxv.port, username=nsxv.username,
                                 password=nsxv.password, vcenter=vcenter)
    manager = endpoints.accept_certificate(manager, nsxv.fingerprint)
    m.NsxManager.objects.filter(pk=manager.pk).update(sync_state="idle")
    record = sync.sync_nsx_manager(manager.pk)
    assert record is not None and record.ok, f"the sync of NSX {nsxv.host}:{nsxv.port} failed: {record and record.error}"
    return m.NsxManager.objects.get(pk=manager.pk)
