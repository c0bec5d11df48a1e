"""DeploymentSpec validation: shape, self-consistency, and checks against the synced inventory.
Every issue names the JSON path of the input to fix."""

import pytest

from deployments.plan import address_needs, build_plan
from deployments.spec import parse, secret_paths, validate
from testkit.spec import registered_nsx, valid_spec

pytestmark = pytest.mark.django_db


def issues_at(issues, path):
    return [i for i in issues if i.path == path]


def test_the_reference_spec_is_valid_with_only_the_dns_advisory(vcsim, synced_vcenter):
    spec, issues = validate(valid_spec(vcsim))
    assert spec is not None
    assert [(i.code, i.severity) for i in issues] == [("hostname_other_address", "advisory")]  # localhost is 127.0.0.1


def test_ha_plan_matches_vio_requirements(vcsim):
    spec, _ = parse(valid_spec(vcsim))
    plan = build_plan(spec)
    assert (plan.total_vcpu, plan.total_memory_gb, plan.total_disk_gb) == (56, 192, 605)
    roles = [vm.role for vm in plan.vms]
    assert roles.count("controller") == 2 and roles.count("db") == 3 and roles.count("dhcp") == 2
    assert plan.internal_vip == "10.20.0.10" and plan.vms[0].management_ip == "10.20.0.11"
    assert [vm.external_ip for vm in plan.vms if vm.role == "lb"] == ["192.0.2.10", "192.0.2.11"]
    assert plan.anti_affinity["cloud1-db"] == ["cloud1-db-01", "cloud1-db-02", "cloud1-db-03"]
    assert address_needs("ha", "dvs", 1) == (15, 2) and address_needs("compact", "nsx", 2) == (3, 1)


def test_shape_errors_name_their_paths(vcsim):
    data = valid_spec(vcsim)
    data["name"] = "Cloud One"
    data["management_network"]["gateway"] = "10.20.0.300"
    data["keystone"]["admin_password"] = "short"
    data["neutron"] = {"mode": "dvs"}
    data["surprise"] = True
    _, issues = parse(data)
    paths = {i.path for i in issues}
    assert {"name", "management_network.gateway", "keystone.admin_password", "neutron", "surprise"} <= paths
    assert "not a field" in issues_at(issues, "surprise")[0].message


@pytest.mark.parametrize("change,path,code", [
    (lambda d: d["management_network"]["ip_ranges"].__setitem__(0, {"start": "10.30.0.10", "end": "10.30.0.40"}),
     "management_network.ip_ranges.0", "range_outside_subnet"),
    (lambda d: d["management_network"].__setitem__("gateway", "10.20.0.20"), "management_network.gateway", "gateway_in_range"),
    (lambda d: d["load_balancer"].__setitem__("public_vip", "192.0.2.15"), "load_balancer.public_vip", "vip_in_range"),
    (lambda d: d["load_balancer"].__setitem__("public_vip", "198.51.100.5"), "load_balancer.public_vip", "vip_outside_subnet"),
    (lambda d: d["management_network"]["ip_ranges"].__setitem__(0, {"start": "10.20.0.10", "end": "10.20.0.20"}),
     "management_network.ip_ranges", "not_enough_addresses"),
    (lambda d: d["external_network"]["ip_ranges"].append({"start": "192.0.2.15", "end": "192.0.2.30"}),
     "external_network.ip_ranges.1", "ranges_overlap"),
    (lambda d: d["compute_clusters"].__setitem__(0, {"cluster": "Management", "datastores": ["vio-shared-nfs"]}),
     "compute_clusters.0.cluster", "compute_is_management"),
    (lambda d: d["management_network"].__setitem__("netmask", "255.0.255.0"), "management_network.netmask", "invalid_netmask"),
])
def test_consistency_errors(vcsim, change, path, code):
    data = valid_spec(vcsim)
    change(data)
    _, issues = validate(data, check_inventory=False)
    assert (path, code) in {(i.path, i.code) for i in issues}, issues
    assert all(i.message for i in issues)


@pytest.mark.parametrize("change,path,code", [
    (lambda d: d.__setitem__("management_cluster", "Nope"), "management_cluster", "unknown_cluster"),
    (lambda d: d["compute_clusters"][0].__setitem__("datastores", ["local-esx-mgmt-01.vio.local"]),
     "compute_clusters.0.datastores.0", "datastore_not_on_cluster"),
    (lambda d: d.__setitem__("management_datastores", ["vio-compute-nfs"]), "management_datastores.0", "datastore_not_on_cluster"),
    (lambda d: d["neutron"]["dvs"].__setitem__("trunk_portgroup", "VIO-Management"), "neutron.dvs.trunk_portgroup", "not_a_trunk"),
    (lambda d: d["management_network"].__setitem__("portgroup", "VIO-DSwitch-DVUplinks-9"), "management_network.portgroup", "uplink_portgroup"),
    (lambda d: d["compute_clusters"][0].update({"datastores": [], "datastore_regex": "^san-"}),
     "compute_clusters.0.datastore_regex", "regex_matches_nothing"),
    (lambda d: d.__setitem__("glance_datastore", "missing-ds"), "glance_datastore", "unknown_datastore"),
    (lambda d: d["vcenter"].__setitem__("port", 1), "vcenter.host", "vcenter_not_registered"),
])
def test_inventory_errors(vcsim, synced_vcenter, change, path, code):
    data = valid_spec(vcsim)
    change(data)
    _, issues = validate(data, live=False)
    assert (path, code) in {(i.path, i.code) for i in issues}, issues


def test_capacity_is_checked_against_the_management_cluster(vcsim, synced_vcenter):
    from inventory.models import Cluster

    Cluster.objects.filter(vcenter=synced_vcenter, name="Management").update(memory_used_bytes=700 * 2**30)
    _, issues = validate(valid_spec(vcsim), live=False)
    (memory,) = issues_at(issues, "management_cluster")
    assert memory.code == "not_enough_memory" and "192 GB" in memory.message


def test_nsx_mode_is_checked_against_nsx(vcsim, nsxv, nsxv_factory, synced_vcenter):
    registered_nsx(nsxv, synced_vcenter)
    spec, issues = validate(valid_spec(vcsim, mode="nsx", nsxv=nsxv), live=False)
    assert spec is not None and not [i for i in issues if i.blocking]
    data = valid_spec(vcsim, mode="nsx", nsxv=nsxv)
    data["neutron"]["nsx"]["edge_cluster"] = "Management"  # not prepared for NSX
    data["compute_clusters"].append({"cluster": "Management", "datastores": ["vio-shared-nfs"]})
    data["topology"] = "compact"
    codes = {(i.path, i.code) for i in validate(data, live=False)[1]}
    assert ("neutron.nsx.edge_cluster", "edge_not_prepared") in codes
    assert ("neutron.nsx.transport_zone", "zone_misses_cluster") in codes

    old = nsxv_factory("--version", "6.1.0")
    registered_nsx(old, synced_vcenter, name="old")
    codes = {i.code for i in validate(valid_spec(vcsim, mode="nsx", nsxv=old), live=False)[1]}
    assert "nsx_too_old" in codes


def test_secret_fields_are_marked():
    assert secret_paths() == ["keystone.admin_password", "keystone.ldap.bind_password"]
