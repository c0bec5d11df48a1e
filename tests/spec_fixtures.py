"""A valid spec for the simulators' VIO inventory, and fixtures registering them."""

import copy

import pytest

from inventory import models as m
from inventory.services import endpoints, sync


def valid_spec(vcsim, *, mode: str = "dvs", nsxv=None) -> dict:
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


def registered_vcenter(vcsim, name="vc"):
    vcenter = m.VCenter.objects.filter(host=vcsim.host, port=vcsim.port).first()
    if vcenter is None:
        vcenter = endpoints.register(m.VCenter, name=name, host=vcsim.host, port=vcsim.port,
                                     username=vcsim.username, password=vcsim.password)
        vcenter = endpoints.accept_certificate(vcenter, vcsim.fingerprint)
        m.VCenter.objects.filter(pk=vcenter.pk).update(sync_state="idle")
    assert sync.sync_vcenter(vcenter.pk).ok
    return m.VCenter.objects.get(pk=vcenter.pk)


def registered_nsx(nsxv, vcenter, name="nsx"):
    manager = endpoints.register(m.NsxManager, name=name, host=nsxv.host, port=nsxv.port, username=nsxv.username,
                                 password=nsxv.password, vcenter=vcenter)
    manager = endpoints.accept_certificate(manager, nsxv.fingerprint)
    m.NsxManager.objects.filter(pk=manager.pk).update(sync_state="idle")
    assert sync.sync_nsx_manager(manager.pk).ok
    return m.NsxManager.objects.get(pk=manager.pk)


@pytest.fixture
def synced_vcenter(vcsim):
    return registered_vcenter(vcsim)
