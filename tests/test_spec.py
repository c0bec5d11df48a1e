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


@pytest.mark.parametrize("where", ["management_network.portgroup", "external_network.portgroup",
                                   "neutron.dvs.trunk_portgroup", "neutron.nsx.external_portgroup"])
def test_an_uplink_port_group_is_refused_wherever_a_port_group_is_asked_for(vcsim, nsxv, synced_vcenter, where):
    from inventory.models import Network

    uplink = Network.objects.get(vcenter=synced_vcenter, uplink=True).name
    if "nsx" in where:
        registered_nsx(nsxv, synced_vcenter)
    data = valid_spec(vcsim, mode="nsx", nsxv=nsxv) if "nsx" in where else valid_spec(vcsim)
    *parents, leaf = where.split(".")
    node = data
    for part in parents:
        node = node[part]
    node[leaf] = uplink
    _, issues = validate(data, live=False)
    (refused,) = [i for i in issues if i.path == where]
    assert refused.code == "uplink_portgroup" and "uplink port group of VIO-DSwitch" in refused.message


def test_one_pass_a_value_that_does_not_parse_hides_nothing_else(vcsim, synced_vcenter):
    data = valid_spec(vcsim)
    data["management_network"]["dns_servers"] = ["10.20.0.2x"]
    data["management_network"]["ip_ranges"].append({"start": "10.30.0.1", "end": "10.30.0.9"})
    data["external_network"]["ip_ranges"][0]["end"] = "192.0.2.2O"  # a letter O
    data["load_balancer"]["public_vip"] = "192.0.2.0/24"
    data["glance_datastore"] = "missing-ds"
    spec, issues = validate(data, live=False)
    assert spec is None
    found = {(i.path, i.code) for i in issues}
    assert {("management_network.dns_servers.0", "ip_v4_address"), ("external_network.ip_ranges.0.end", "ip_v4_address"),
            ("load_balancer.public_vip", "address_is_network"), ("management_network.ip_ranges.1", "range_outside_subnet"),
            ("glance_datastore", "unknown_datastore")} <= found
    # Nothing is said of what stood in for the values that did not parse.
    assert not [i for i in issues if i.path.startswith("external_network.ip_ranges") and i.code != "ip_v4_address"]
    assert [i.path for i in issues if i.path.startswith("load_balancer")] == ["load_balancer.public_vip"]


@pytest.mark.parametrize("change,path,message", [
    (lambda d: d["management_network"]["ip_ranges"].__setitem__(0, {"start": "10.20.0.40", "end": "10.20.0.10"}),
     "management_network.ip_ranges.0", "10.20.0.40-10.20.0.10: the start is after the end; write it as 10.20.0.10-10.20.0.40."),
    (lambda d: d["management_network"].update(gateway="10.2.0.1"), "management_network.gateway",
     "The gateway 10.2.0.1 is not in the subnet of the IP ranges (10.20.0.0/24, netmask 255.255.255.0): is it a typo? "
     "Give the router's address in 10.20.0.0/24."),
    (lambda d: d["management_network"].update(gateway="10.20.0.1/24"), "management_network.gateway",
     "10.20.0.1/24 is an address with a prefix length: give one address, not a network: 10.20.0.1"),
    (lambda d: d["external_network"].update(netmask="192.0.2.0/24"), "external_network.netmask",
     "192.0.2.0/24 is a network: give its netmask, e.g. 255.255.255.0 or /24"),
])
def test_precise_messages(vcsim, change, path, message):
    data = valid_spec(vcsim)
    change(data)
    _, issues = validate(data, check_inventory=False)
    assert [i.message for i in issues if i.path == path] == [message]
    assert not [i for i in issues if i.path.startswith(path.rsplit(".", 1)[0]) and i.path != path], issues


def test_compact_wording(vcsim, synced_vcenter):
    from inventory.models import Cluster

    data = valid_spec(vcsim)
    data["topology"] = "compact"
    data["management_network"]["ip_ranges"] = [{"start": "10.20.0.10", "end": "10.20.0.10"}]
    Cluster.objects.filter(vcenter=synced_vcenter, name="Management").update(memory_used_bytes=760 * 2**30)
    _, issues = validate(data, live=False)
    (addresses,) = issues_at(issues, "management_network.ip_ranges")
    assert addresses.message == ("This deployment needs 2 management addresses (one per VM); the ranges hold 1. "
                                 "Widen a range or add one.")
    (memory,) = issues_at(issues, "management_cluster")
    assert "40 GB of memory (2 VMs)" in memory.message and "compact topology" not in memory.message
    data["topology"] = "ha"
    _, issues = validate(data, live=False)
    assert "internal VIP" in issues_at(issues, "management_network.ip_ranges")[0].message
    assert "or choose the compact topology" in issues_at(issues, "management_cluster")[0].message


def test_a_change_needs_room_only_for_what_it_adds(vcsim, synced_vcenter):
    from deployments.choices import RunStatus
    from deployments.services import launch
    from inventory.models import Cluster
    from testkit.spec import ACKNOWLEDGED

    deployment = launch.create_deployment(valid_spec(vcsim), acknowledged={ACKNOWLEDGED})
    deployment.runs.update(status=RunStatus.SUCCEEDED)  # its 192 GB of VMs run on Management now
    management = Cluster.objects.get(vcenter=synced_vcenter, name="Management")
    Cluster.objects.filter(pk=management.pk).update(memory_used_bytes=management.memory_bytes - 10 * 2**30)
    data = valid_spec(vcsim)
    data["compute_clusters"].append({"cluster": "Compute-B", "datastores": ["vio-compute-nfs"]})
    assert not issues_at(validate(data, live=False, deployment=deployment)[1], "management_cluster")  # 8 GB more
    data["compute_clusters"].append({"cluster": "Edge", "datastores": ["vio-compute-nfs"]})
    Cluster.objects.filter(pk=management.pk).update(memory_used_bytes=management.memory_bytes - 12 * 2**30)
    (memory,) = issues_at(validate(data, live=False, deployment=deployment)[1], "management_cluster")
    assert memory.message.startswith("The change needs 16 GB more memory; Management has 12 GB free.")
    (memory,) = issues_at(validate(data, live=False)[1], "management_cluster")  # a new deployment needs it all
    assert memory.message.startswith("The plan needs 208 GB of memory (15 VMs)")


def test_the_ova_url_check_follows_the_download_policy(settings, free_port):
    """A Range request for the first bytes under download.py's policy: a redirect is checked like the URL
    itself, a server that cannot be reached is an advisory (the run downloads it later), the size is read."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from deployments.spec.ova import check_ova_url

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.headers.get("Range"))
            if self.path == "/moved.ova":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            body = b"\0" * 257 + b"ustar" + b"\0" * 250
            self.send_response(206)
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Content-Range", f"bytes 0-511/{30 * 2**30}")
            self.send_header("Content-Length", "512")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        moved = check_ova_url(f"{base}/moved.ova")
        (refused,) = moved.issues
        assert refused.blocking and "169.254.169.254 is a link-local address" in refused.message
        big = check_ova_url(f"{base}/vio.ova")
        assert (big.status, big.size, big.content_type, big.tar) == (206, 30 * 2**30, "application/x-tar", True)
        (too_large,) = big.issues
        assert too_large.code == "too_large" and "30 GiB, more than 20 GiB" in too_large.message
        assert seen[-1] == "bytes=0-511"
    finally:
        server.shutdown()
        server.server_close()
    (unreachable,) = check_ova_url(f"http://127.0.0.1:{free_port}/vio.ova").issues
    assert not unreachable.blocking and "could not be checked now" in unreachable.message
