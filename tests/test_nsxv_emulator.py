"""The NSX-v Manager emulator: conformance with VMware's NSX-v 6.4 RAML, auth, JSON, faults, flags.

Conformance tests need VMware's RAML spec at ../shared/specs/nsxraml-6.4 (from the project root).
Without it they skip, except under CI (the CI environment variable), where they fail.
"""

import dataclasses
import json
import os
import ssl
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulators.nsxv.server import COMPILED_ROUTES

ROOT = Path(__file__).resolve().parent.parent
RAML_DIR = ROOT.parent / "shared" / "specs" / "nsxraml-6.4"
XS = "{http://www.w3.org/2001/XMLSchema}"


# --- the RAML spec ---------------------------------------------------------------------------


def _require_spec() -> Path:
    if not (RAML_DIR / "nsxvapi.raml").exists():
        message = (
            f"VMware's NSX-v 6.4 RAML spec is not at {RAML_DIR}: the emulator's conformance tests need it "
            "(vmware-archive/nsxraml, branch 6.4, placed at ../shared/specs/nsxraml-6.4)."
        )
        if os.environ.get("CI"):
            pytest.fail(message + " CI must run them.")
        pytest.skip(message)
    return RAML_DIR


def test_a_missing_spec_skips_except_under_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "RAML_DIR", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="RAML spec is not at"):
        _require_spec()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run them"):
        _require_spec()


@pytest.fixture(scope="session")
def raml_path() -> Path:
    return _require_spec() / "nsxvapi.raml"


@pytest.fixture(scope="session")
def raml_resources(raml_path) -> dict:
    """{'/api' + resource path: resource}, parsed by pyraml-parser (what nsxramlclient uses)."""
    import pyraml.parser

    spec = pyraml.parser.load(str(raml_path))
    found = {}

    def walk(node, prefix):
        for path, child in (node.resources or {}).items():
            found[prefix + path] = child
            walk(child, prefix + path)

    walk(spec, "/api")
    return found


def response_example(resources: dict, path: str, method: str = "get") -> ET.Element | None:
    resource = resources.get(path)
    operation = (resource.methods or {}).get(method) if resource else None
    response = (operation.responses or {}).get(200) if operation else None
    body = (response.body or {}).get("application/xml") if response and response.body else None
    return ET.fromstring(body.example) if body is not None and body.example else None


def child_tags(element: ET.Element, path: tuple = ()) -> dict[tuple, set[str]]:
    """{path from the root: tags of the children there}, merged over repeated elements."""
    tree = {path + (element.tag,): {child.tag for child in element}}
    for child in element:
        for sub_path, tags in child_tags(child, path + (element.tag,)).items():
            tree.setdefault(sub_path, set()).update(tags)
    return tree


def xsd_child_tags(xsd: Path) -> dict[tuple, set[str]]:
    """The same map for the element tree an XSD declares (its nested xs:sequence elements)."""
    tree: dict[tuple, set[str]] = {}

    def walk(declaration, path):
        here = path + (declaration.get("name"),)
        children = declaration.findall(f"{XS}complexType/{XS}sequence/{XS}element")
        tree.setdefault(here, set()).update(child.get("name") for child in children)
        for child in children:
            walk(child, here)

    walk(ET.parse(xsd).getroot().find(f"{XS}element"), ())
    return tree


def assert_tags_within(actual: ET.Element, allowed: dict[tuple, set[str]], what: str) -> None:
    root = next(iter(allowed))[0]
    assert actual.tag == root, f"{what}: root <{actual.tag}>, the spec has <{root}>"
    for path, tags in child_tags(actual).items():
        extra = tags - allowed.get(path, set())
        assert not extra, f"{what}: {'/'.join(path)} has {sorted(extra)}, which the spec does not have there"


# --- conformance -----------------------------------------------------------------------------


def edge_cluster_moid(nsxv) -> str:
    status, _, body = nsxv.request("GET", "/api/2.0/vdn/scopes/vdnscope-1")
    clusters = ET.fromstring(body).findall("clusters/cluster/cluster")
    return next(c.findtext("objectId") for c in clusters if c.findtext("name") == "Edge")


# RAML resource -> a concrete emulator URL for it.
CONFORMANCE = {
    "/api/1.0/appliance-management/global/info": "/api/1.0/appliance-management/global/info",
    "/api/2.0/vdn/scopes": "/api/2.0/vdn/scopes",
    "/api/2.0/vdn/scopes/{scopeId}": "/api/2.0/vdn/scopes/vdnscope-1",
    "/api/4.0/edges/{edgeId}/summary": "/api/4.0/edges/edge-1/summary",
    "/api/4.0/edges/{edgeId}/status": "/api/4.0/edges/edge-3/status",
    "/api/2.0/vdn/controller": "/api/2.0/vdn/controller",
    "/api/2.0/vdn/switches": "/api/2.0/vdn/switches",
    "/api/2.0/nwfabric/status": "/api/2.0/nwfabric/status?resource={edge_cluster}",
    "/api/2.0/services/vcconfig": "/api/2.0/services/vcconfig",
    "/api/2.0/services/vcconfig/status": "/api/2.0/services/vcconfig/status",
}


def test_every_served_get_with_a_raml_example_is_checked(raml_resources):
    """No drift: each emulator GET route that the RAML documents with a 200 example is in CONFORMANCE."""
    samples = {"{edgeId}": "edge-1"}  # the emulator serves edge ids of NSX's form only
    served_with_example = set()
    for path in raml_resources:
        concrete = "/".join(samples.get(part, "sample-1") if part.startswith("{") else part for part in path.split("/"))
        served = any(method == "GET" and pattern.match(concrete) for method, pattern, _ in COMPILED_ROUTES)
        if served and response_example(raml_resources, path) is not None:
            served_with_example.add(path)
    assert served_with_example == set(CONFORMANCE)


@pytest.mark.parametrize("raml_path_key", sorted(CONFORMANCE))
def test_get_matches_the_raml_example(nsxv, raml_resources, raml_path_key):
    example = response_example(raml_resources, raml_path_key)
    url = CONFORMANCE[raml_path_key].format(edge_cluster=edge_cluster_moid(nsxv))
    status, headers, body = nsxv.request("GET", url)
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/xml")
    document = ET.fromstring(body)
    assert len(document), f"{url} returned an empty <{document.tag}>"
    assert_tags_within(document, child_tags(example), url)


def test_edge_list_pages_hold_summaries_shaped_like_the_summary_example(nsxv, raml_resources):
    example = response_example(raml_resources, "/api/4.0/edges/{edgeId}/summary")
    status, _, body = nsxv.request("GET", "/api/4.0/edges?startIndex=2&pageSize=3")
    assert status == 200
    page = ET.fromstring(body)
    assert page.tag == "pagedEdgeList"
    paging = {child.tag: child.text for child in page.find("edgePage/pagingInfo")}
    assert paging["startIndex"] == "2" and paging["pageSize"] == "3" and paging["totalCount"] == "7"
    summaries = page.findall("edgePage/edgeSummary")
    assert [s.findtext("id") for s in summaries] == ["edge-3", "edge-4", "edge-5"]
    for summary in summaries:
        assert_tags_within(summary, child_tags(example), "edgeSummary in the edge list")


def test_edge_detail_uses_only_elements_of_the_edge_schemas(nsxv):
    """The RAML has no response example for GET /4.0/edges/{edgeId}; its create/update schemas name the elements."""
    schemas = _require_spec() / "schemas"
    allowed = xsd_child_tags(schemas / "nsxEdgesCreate.xsd")
    for path, tags in xsd_child_tags(schemas / "nsxEdgeUpdate.xsd").items():
        allowed.setdefault(path, set()).update(tags)
    for edge_id, edge_type in (("edge-1", "gatewayServices"), ("edge-3", "distributedRouter")):
        status, _, body = nsxv.request("GET", f"/api/4.0/edges/{edge_id}")
        assert status == 200
        edge = ET.fromstring(body)
        assert edge.findtext("type") == edge_type
        assert_tags_within(edge, allowed, f"edge {edge_id}")


def test_auth_token_matches_the_raml_example_and_authenticates(nsxv, raml_resources):
    example = response_example(raml_resources, "/api/2.0/services/auth/token", "post")
    status, _, body = nsxv.request("POST", "/api/2.0/services/auth/token?expiresInMinutes=5")
    assert status == 200
    document = ET.fromstring(body)
    assert_tags_within(document, child_tags(example), "authToken")
    token = document.findtext("value")
    status, _, body = nsxv.request(
        "GET", "/api/2.0/vdn/controller", headers={"Authorization": f"AUTHTOKEN {token}"}, auth=("", "")
    )
    assert status == 200 and ET.fromstring(body).tag == "controllers"
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, _, _ = nsxv.request(
        "GET", "/api/2.0/vdn/controller", headers={"Authorization": f"AUTHTOKEN {tampered}"}, auth=("", "")
    )
    assert status == 401


# --- data drawn from vCenter -------------------------------------------------------------------


def test_what_the_neutron_plugin_validates_at_start(nsxv, vcenter_si):
    """vmware-nsx checks datacenter_moid, external_network, cluster/resource pool/datastore ids against NSX."""
    from pyVmomi import vim

    from inventory.clients.vsphere import collect

    datacenter = collect(vcenter_si, vim.Datacenter, ["name"])[0]["_obj"]._moId
    portgroups = {
        row["name"]: row["_obj"]._moId for row in collect(vcenter_si, vim.dvs.DistributedVirtualPortgroup, ["name"])
    }
    datastores = {row["name"]: row["_obj"]._moId for row in collect(vcenter_si, vim.Datastore, ["name"])}
    edge = next(
        row
        for row in collect(vcenter_si, vim.ClusterComputeResource, ["name", "resourcePool"])
        if row["name"] == "Edge"
    )

    status, _, body = nsxv.request("GET", "/api/2.0/services/usermgmt/scopingobjects")
    assert status == 200
    objects = {
        (o.findtext("objectTypeName"), o.findtext("objectId")): o.findtext("name")
        for o in ET.fromstring(body).iter("object")
    }
    assert ("Datacenter", datacenter) in objects
    assert objects[("DistributedVirtualPortgroup", portgroups["VIO-External"])] == "VIO-External"

    for moid, name in (
        (edge["resourcePool"]._moId, "Resources"),
        (datastores["vio-shared-nfs"], "vio-shared-nfs"),
        (edge["_obj"]._moId, "Edge"),
    ):
        # Simulator datastore moids contain "/" and ":": the path carries them URL-quoted.
        status, _, body = nsxv.request(
            "GET",
            f"/api/2.0/services/inventory/{urllib.parse.quote(moid, safe='')}/basicinfo",
            headers={"Accept": "application/json"},
        )
        assert status == 200, body
        assert json.loads(body)["name"] == name
    status, _, body = nsxv.request("GET", "/api/2.0/services/inventory/resgroup-99999/basicinfo")
    assert status == 404 and ET.fromstring(body).findtext("errorCode") == "202"

    status, _, body = nsxv.request("GET", "/api/2.0/services/vsmconfig", headers={"Accept": "application/json"})
    assert status == 200 and json.loads(body)["version"] == "6.4.5"


def test_transport_zone_leaves_out_clusters_vio_does_not_prepare(vcsim_factory, nsxv_factory):
    bigger = vcsim_factory("-clusters", "2")
    emulator = nsxv_factory(vcenter=bigger)
    status, _, body = emulator.request("GET", "/api/2.0/vdn/scopes")
    names = {c.findtext("name") for c in ET.fromstring(body).findall("vdnScope/clusters/cluster/cluster")}
    assert names == {"Compute-A", "Compute-B", "Edge"}
    scale = next(
        c
        for c in ET.fromstring(emulator.request("GET", "/api/2.0/services/usermgmt/scopingobjects")[2]).iter("object")
        if c.findtext("name") == "Scale-01"
    )
    status, _, body = emulator.request("GET", f"/api/2.0/nwfabric/status?resource={scale.findtext('objectId')}")
    assert status == 200
    assert {f.findtext("installed") for f in ET.fromstring(body).iter("nwFabricFeatureStatus")} == {"false"}


def test_objects_are_told_apart_by_type_not_by_moid_shape():
    """vCenter's moids (domain-cN, dvs-N, datastore-N…) and its switch class (a VmwareDistributedVirtualSwitch)
    are read as well as the simulator's: only the pyvmomi type decides what an object is."""
    from pyVmomi import vim

    from simulators.nsxv.vcenter import SWITCH_TYPE_NAME, _classify

    rows = [
        (vim.ClusterComputeResource("domain-c7"),
         {"name": "Edge", "resourcePool": vim.ResourcePool("resgroup-8"), "host": [vim.HostSystem("host-9")]}),
        (vim.HostSystem("host-9"), {"name": "esx-edge-01"}),
        (vim.dvs.VmwareDistributedVirtualSwitch("dvs-21"), {"name": "vds-vcenter"}),
        (vim.DistributedVirtualSwitch("switch-22"), {"name": "vds-simulator"}),
        (vim.dvs.DistributedVirtualPortgroup("dvportgroup-23"), {"name": "VIO-External"}),
        (vim.Network("network-24"), {"name": "VM Network"}),
        (vim.OpaqueNetwork("network-o25"), {"name": "an NSX-T segment"}),
        (vim.Datastore("datastore-26"), {"name": "vio-shared-nfs"}),
        (vim.ResourcePool("resgroup-8"), {"name": "Resources"}),
    ]
    kinds = _classify(rows)
    (cluster,) = kinds["clusters"]
    assert (cluster.moid, cluster.resource_pool, cluster.hosts) == ("domain-c7", "resgroup-8", ("host-9",))
    switches = [(s.moid, s.type_name) for s in kinds["switches"]]
    assert switches == [("dvs-21", SWITCH_TYPE_NAME), ("switch-22", SWITCH_TYPE_NAME)]
    assert [p.moid for p in kinds["portgroups"]] == ["dvportgroup-23"]
    assert [n.moid for n in kinds["networks"]] == ["network-24"]  # neither the DVPG nor the opaque network
    assert [d.moid for d in kinds["datastores"]] == ["datastore-26"] and [h.moid for h in kinds["hosts"]] == ["host-9"]


def test_the_inventory_follows_vcenter(vcsim_factory, nsxv_factory):
    """A cluster, a host and a switch added in vCenter appear in NSX, and vanish when removed; when vCenter
    cannot be read, NSX keeps its last picture and reports the vCenter connection down."""
    from pyVmomi import vim

    from inventory.clients.vsphere import disconnect, wait_for_tasks

    vcenter = vcsim_factory()
    emulator = nsxv_factory("--edges", "1", "--vcenter-refresh", "0.2", vcenter=vcenter)

    def seen() -> dict:
        time.sleep(0.3)  # past --vcenter-refresh
        status, _, body = emulator.request("GET", "/api/2.0/services/usermgmt/scopingobjects")
        assert status == 200
        return {o.findtext("objectId"): o.findtext("objectTypeName") for o in ET.fromstring(body).iter("object")}

    si = vcenter.connect()
    try:
        datacenter = next(e for e in si.content.rootFolder.childEntity if isinstance(e, vim.Datacenter))
        cluster = datacenter.hostFolder.CreateClusterEx("Compute-C", vim.cluster.ConfigSpecEx())
        connect_spec = vim.host.ConnectSpec(hostName="esx-compc-01.vio.local", userName="root", password="x")
        switch_spec = vim.DistributedVirtualSwitch.CreateSpec(
            configSpec=vim.dvs.VmwareDistributedVirtualSwitch.ConfigSpec(name="VIO-DSwitch-2")
        )
        tasks = [
            cluster.AddHost_Task(spec=connect_spec, asConnected=True),
            datacenter.networkFolder.CreateDVS_Task(switch_spec),
        ]
        wait_for_tasks(si, tasks, timeout=60)
        host, switch = cluster.host[0], tasks[1].info.result
        objects = seen()
        assert objects[cluster._moId] == "ClusterComputeResource" and objects[host._moId] == "HostSystem"
        assert objects[switch._moId] == "VmwareDistributedVirtualSwitch"
        status, _, body = emulator.request("GET", "/api/2.0/vdn/switches")
        assert switch._moId in {o.text for o in ET.fromstring(body).iter("objectId")}
        status, _, body = emulator.request("GET", f"/api/2.0/nwfabric/status?resource={host._moId}")
        assert status == 200
        assert ET.fromstring(body).findtext("resourceStatus/resource/name") == "esx-compc-01.vio.local"

        # (The 0.24.2 simulator cannot destroy a cluster: it has no ClusterComputeResource.Destroy_Task.)
        wait_for_tasks(si, [switch.Destroy_Task(), host.Destroy_Task(), cluster.Rename_Task("Compute-D")], timeout=60)
        objects = seen()
        assert not {host._moId, switch._moId} & set(objects)
        assert emulator.request("GET", f"/api/2.0/nwfabric/status?resource={host._moId}")[0] == 400
        status, _, body = emulator.request("GET", f"/api/2.0/services/inventory/{cluster._moId}/basicinfo")
        assert status == 200 and ET.fromstring(body).findtext("name") == "Compute-D"
    finally:
        disconnect(si)

    status, _, body = emulator.request("GET", "/api/2.0/services/vcconfig/status")
    assert ET.fromstring(body).findtext("connected") == "true"
    vcenter.running.stop()
    time.sleep(0.3)
    status, _, body = emulator.request("GET", "/api/2.0/services/vcconfig/status")
    assert status == 200 and ET.fromstring(body).findtext("connected") == "false"
    assert emulator.request("GET", "/api/2.0/vdn/scopes")[0] == 200  # the last reading still serves


def test_the_emulator_pins_its_vcenter_certificate(vcsim):
    from simulators.launcher import SimulatorError, start_nsxv

    impostor = dataclasses.replace(vcsim.running, fingerprint=":".join(["AB"] * 32))
    with pytest.raises(SimulatorError, match=f"certificate of {vcsim.host}:{vcsim.port} changed"):
        start_nsxv(impostor)


def test_fabric_status_answers_for_the_object_asked_for(nsxv, vcenter_si):
    """?resource=host-N is that host's status (a HostSystem), not its cluster's."""
    from pyVmomi import vim

    from inventory.clients.vsphere import collect

    clusters = {row["name"]: row for row in collect(vcenter_si, vim.ClusterComputeResource, ["name", "host"])}
    edge_host = clusters["Edge"]["host"][0]._moId
    management_host = clusters["Management"]["host"][0]._moId
    for moid, type_name, installed in (
        (edge_host, "HostSystem", "true"),
        (management_host, "HostSystem", "false"),
        (clusters["Edge"]["_obj"]._moId, "ClusterComputeResource", "true"),
    ):
        status, _, body = nsxv.request("GET", f"/api/2.0/nwfabric/status?resource={moid}")
        assert status == 200, body
        (resource_status,) = ET.fromstring(body).findall("resourceStatus")
        assert resource_status.findtext("resource/objectId") == moid
        assert resource_status.findtext("resource/objectTypeName") == type_name
        assert {f.findtext("installed") for f in resource_status.iter("nwFabricFeatureStatus")} == {installed}


def test_unknown_objects_and_paths_get_nsx_error_bodies(nsxv):
    for path, expected_status in (
        ("/api/4.0/edges/edge-99", 404),
        ("/api/2.0/vdn/scopes/vdnscope-9", 404),
        ("/api/2.0/nwfabric/status?resource=domain-c999", 400),
        ("/api/9.9/nothing", 404),
    ):
        status, headers, body = nsxv.request("GET", path)
        assert status == expected_status, path
        error = ET.fromstring(body)
        assert error.tag == "error" and {c.tag for c in error} == {"details", "errorCode", "moduleName"}, path
    status, _, body = nsxv.request("GET", "/api/4.0/edges?pageSize=5000")
    assert status == 400 and "pageSize" in ET.fromstring(body).findtext("details")


# --- JSON, authentication ----------------------------------------------------------------------


def test_json_when_asked_for_it(nsxv):
    status, headers, body = nsxv.request(
        "GET", "/api/1.0/appliance-management/global/info", headers={"Accept": "application/json"}
    )
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    info = json.loads(body)
    _, _, xml_body = nsxv.request("GET", "/api/1.0/appliance-management/global/info")
    xml_version = ET.fromstring(xml_body).find("versionInfo")
    # Strings, as VMware's tempest plugin reads them ('.'.join of the four parts).
    assert info["versionInfo"]["majorVersion"] == xml_version.findtext("majorVersion") == "6"
    assert info["versionInfo"]["buildNumber"] == xml_version.findtext("buildNumber")

    status, _, body = nsxv.request(
        "GET", "/api/4.0/edges?startIndex=0&pageSize=4", headers={"Accept": "application/json"}
    )
    page = json.loads(body)["edgePage"]
    assert page["pagingInfo"]["totalCount"] == 7 and len(page["data"]) == 4
    assert page["data"][0]["edgeStatus"] == "GREEN"

    status, headers, body = nsxv.request("GET", "/api/4.0/edges/edge-99", headers={"Accept": "application/json"})
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["errorCode"] == 202


# The JSON that clients of real NSX-v managers read, endpoint by endpoint (RAML 6.4 has no JSON
# examples). Each path must exist in the emulator's JSON. Sources: vmware-nsx (vcns.py get_edges,
# get_version, get_inventory_name; edge_appliance_driver.py; dvs.py; devstack/tools/nsxv_cleanup.py),
# vmware-nsx-tempest-plugin (services/nsxv_client.py), cPodFactory network/list_dvs.sh and
# list_transportzone.sh, a public NSX-v lab deployment script (nwfabric statuses/featureStatuses,
# vcconfig/status connected, the scope's clusters.clusters[].cluster). Controllers: inferred (model.py).
KNOWN_JSON = {
    "/api/1.0/appliance-management/global/info": [("versionInfo", "majorVersion"), ("currentLoggedInUser",)],
    "/api/2.0/vdn/scopes": [("allScopes", 0, "objectId"),
                            ("allScopes", 0, "clusters", "clusters", 0, "cluster", "objectId")],
    "/api/2.0/vdn/scopes/vdnscope-1": [("objectId",), ("controlPlaneMode",),
                                       ("clusters", "clusters", 0, "cluster", "name")],
    "/api/4.0/edges": [("edgePage", "data", 0, "objectId"), ("edgePage", "data", 0, "edgeType"),
                       ("edgePage", "data", 0, "appliancesSummary", "applianceSize"),
                       ("edgePage", "pagingInfo", "totalCount")],
    "/api/4.0/edges/edge-1": [("type",), ("appliances", "applianceSize"), ("appliances", "appliances", 0, "hostId"),
                              ("vnics", "vnics", 0, "addressGroups", "addressGroups", 0, "primaryAddress")],
    "/api/4.0/edges/edge-1/summary": [("edgeStatus",), ("appliancesSummary", "vmVersion")],
    "/api/4.0/edges/edge-1/status": [("edgeStatus",), ("edgeVmStatus", 0, "edgeVMStatus"),
                                     ("featureStatuses", 0, "service")],
    "/api/2.0/vdn/controller": [("controllers", 0, "id"), ("controllers", 0, "status")],
    "/api/2.0/vdn/switches": [("switches", 0, "switchObj", "objectId"), ("switches", 0, "teamingPolicy"),
                              ("switches", 0, "failoverUplinkPortNames", 0), ("switches", 0, "mtu")],
    "/api/2.0/nwfabric/status?resource={edge_cluster}": [("statuses", 0, "resource", "objectId"),
                                                         ("statuses", 0, "featureStatuses", 0, "featureId"),
                                                         ("statuses", 0, "featureStatuses", 0, "status")],
    "/api/2.0/services/vcconfig": [("ipAddress",), ("userName",), ("certificateThumbprint",)],
    "/api/2.0/services/vcconfig/status": [("connected",), ("lastInventorySyncTime",)],
    "/api/2.0/services/vsmconfig": [("version",)],
    "/api/2.0/services/inventory/{edge_cluster}/basicinfo": [("name",)],
}
# XML element names of repeated items: NSX's JSON names these lists after the Java fields instead.
XML_ONLY_LIST_TAGS = {"vdnScope", "edgeSummary", "appliance", "vnic", "addressGroup", "controller", "vdsContext",
                      "switch", "teaming", "uplinkPortName", "resourceStatus", "nwFabricFeatureStatus", "featureStatus"}
# GET routes whose JSON no client we could read shows: XML only in KNOWN_JSON's sense.
JSON_UNKNOWN = {"/api/2.0/services/usermgmt/scopingobjects"}


def json_keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for item in value.values() for k in json_keys(item)}
    if isinstance(value, list):
        return {k for item in value for k in json_keys(item)}
    return set()


def test_every_served_get_has_its_known_json_checked(nsxv):
    concrete = {url.split("?")[0].format(edge_cluster="domain-c1") for url in KNOWN_JSON} | JSON_UNKNOWN
    for method, pattern, _ in COMPILED_ROUTES:
        if method == "GET":
            assert any(pattern.match(url) for url in concrete), f"{pattern.pattern} has no JSON check"


@pytest.mark.parametrize("url", sorted(KNOWN_JSON))
def test_json_has_the_shape_nsx_clients_read(nsxv, url):
    concrete = url.format(edge_cluster=edge_cluster_moid(nsxv))
    status, headers, body = nsxv.request("GET", concrete, headers={"Accept": "application/json"})
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    document = json.loads(body)
    for path in KNOWN_JSON[url]:
        value = document
        for step in path:
            assert isinstance(value, list if isinstance(step, int) else dict), f"{url}: {path} stops at {step!r}"
            assert (len(value) > step) if isinstance(step, int) else (step in value), f"{url}: no {path}"
            value = value[step]
        assert value not in (None, "", [], {}), f"{url}: {path} is empty"
    # No XML root element (a root-named list field, as the controllers', is a field) and no XML list tags.
    _, _, xml_body = nsxv.request("GET", concrete)
    root = ET.fromstring(xml_body).tag
    assert not (list(document) == [root] and isinstance(document[root], dict)), f"{url}: JSON keeps <{root}>"
    assert not json_keys(document) & XML_ONLY_LIST_TAGS, f"{url}: {json_keys(document) & XML_ONLY_LIST_TAGS}"


@pytest.mark.parametrize("user,password", [("admin", "wrong"), ("root", None), ("ADMIN", None)])
def test_a_wrong_user_name_or_password_gets_403_without_an_nsx_error(nsxv, user, password):
    """NSX-v answers wrong credentials with 403 (not 401 with WWW-Authenticate), and no <error> body."""
    for accept in (None, "application/json"):
        status, headers, body = nsxv.request(
            "GET",
            "/api/2.0/vdn/scopes",
            headers={"Accept": accept} if accept else {},
            auth=(user, password or nsxv.password),
        )
        assert status == 403
        assert "WWW-Authenticate" not in headers and body == b""


def test_a_missing_header_or_a_bad_token_gets_401(nsxv):
    status, headers, body = nsxv.request("GET", "/api/2.0/vdn/scopes", auth=("", ""))
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    error = ET.fromstring(body)
    assert error.tag == "error" and error.findtext("details").startswith("Authentication failed")
    bad_token = {"Authorization": "AUTHTOKEN a.b.c"}
    status, _, _ = nsxv.request("GET", "/api/2.0/vdn/scopes", headers=bad_token, auth=("", ""))
    assert status == 401


# --- faults, version, process ------------------------------------------------------------------


def test_injected_fault_fails_the_next_matching_request_only(nsxv_faults):
    nsxv = nsxv_faults
    nsxv.inject(
        path="/api/4.0/edges", status=500, error_code=10003, message="Edge manager is busy", module="vShield Edge"
    )
    status, body = nsxv.control("GET")
    assert status == 200 and json.loads(body)["rules"][0]["error_code"] == 10003
    status, _, body = nsxv.request("GET", "/api/4.0/edges/edge-1")  # another path: untouched
    assert status == 200
    status, _, body = nsxv.request("GET", "/api/4.0/edges")
    error = ET.fromstring(body)
    assert status == 500
    assert (error.findtext("details"), error.findtext("errorCode"), error.findtext("moduleName")) == (
        "Edge manager is busy",
        "10003",
        "vShield Edge",
    )
    assert nsxv.request("GET", "/api/4.0/edges")[0] == 200
    assert json.loads(nsxv.control("GET")[1])["rules"] == []


def test_injected_delay_and_clearing(nsxv_faults):
    nsxv = nsxv_faults
    nsxv.inject(path="/api/2.0/vdn/*", delay=600, count=-1)
    started = time.monotonic()
    assert nsxv.request("GET", "/api/2.0/vdn/controller")[0] == 200
    assert time.monotonic() - started >= 0.6
    nsxv.clear_faults()
    started = time.monotonic()
    assert nsxv.request("GET", "/api/2.0/vdn/controller")[0] == 200
    assert time.monotonic() - started < 0.5
    status, body = nsxv.control("POST", path="/api/2.0/vdn/controller")  # neither status nor delay
    assert status == 400 and "status" in json.loads(body)["error"]


def test_version_flag_and_runtime_switch(nsxv_factory):
    old = nsxv_factory("--version", "6.1.0", "--edges", "0")
    assert old.version == "6.1.0"
    # Before 6.2.3 global/info answers JSON whatever the Accept header (PowerNSX's Connect-NsxServer).
    status, headers, body = old.request(
        "GET", "/api/1.0/appliance-management/global/info", headers={"Accept": "application/xml"}
    )
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    info = json.loads(body)["versionInfo"]
    assert [info[p] for p in ("majorVersion", "minorVersion", "patchVersion")] == ["6", "1", "0"]
    assert ET.fromstring(old.request("GET", "/api/4.0/edges")[2]).findtext("edgePage/pagingInfo/totalCount") == "0"
    old.set_version("6.4.8.16437879")
    info = ET.fromstring(old.request("GET", "/api/1.0/appliance-management/global/info")[2]).find("versionInfo")
    assert (info.findtext("minorVersion"), info.findtext("patchVersion"), info.findtext("buildNumber")) == (
        "4",
        "8",
        "16437879",
    )


def test_certificate_is_reused_from_cert_and_key_files_and_sigterm_exits_0(nsxv_factory, tmp_path):
    cert, key = tmp_path / "nsx.crt", tmp_path / "nsx.key"
    first = nsxv_factory("--cert", str(cert), "--key", str(key), "--edges", "1")
    assert cert.exists() and key.stat().st_mode & 0o777 == 0o600
    from cryptography import x509

    parsed = x509.load_der_x509_certificate(first.certificate_der)
    assert parsed.public_key().key_size == 2048
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert first.running.stop() == 0
    second = nsxv_factory("--cert", str(cert), "--key", str(key), "--edges", "1")
    assert second.fingerprint == first.fingerprint
    assert ssl.DER_cert_to_PEM_cert(second.certificate_der) == cert.read_text()


# --- VMware's own client --------------------------------------------------------------------------


@pytest.fixture
def raml_client_factory(nsxv, raml_path, monkeypatch, tmp_path):
    """nsxramlclient on the 6.4 RAML, verifying TLS against the emulator's certificate file."""
    from nsxramlclient.client import NsxClient as RamlClient

    # requests lets these override a session's verify setting (see VSPHERE_NSX.md §3).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    pem = tmp_path / "nsxv.pem"
    pem.write_text(ssl.DER_cert_to_PEM_cert(nsxv.certificate_der))

    def make(password=None):
        client = RamlClient(
            str(raml_path), f"{nsxv.host}:{nsxv.port}", nsxv.username, password or nsxv.password, fail_mode="raise"
        )
        # nsxramlclient has no pinning option; its requests session can verify against a CA file,
        # and the emulator's self-signed certificate (SAN 127.0.0.1) is that file.
        client._httpsession._session.verify = str(pem)
        return client

    return make


def test_nsxramlclient_reads_version_scopes_and_every_edge_page(raml_client_factory):
    client = raml_client_factory()
    info = client.read("globalInfo")
    assert info["status"] == 200
    version = info["body"]["globalInfo"]["versionInfo"]
    assert (version["majorVersion"], version["minorVersion"], version["patchVersion"]) == ("6", "4", "5")
    assert tuple(int(version[k]) for k in ("majorVersion", "minorVersion", "patchVersion")) >= (6, 1, 2)

    scopes = client.read("vdnScopes")["body"]["vdnScopes"]["vdnScope"]
    scopes = scopes if isinstance(scopes, list) else [scopes]
    assert [s["objectId"] for s in scopes] == ["vdnscope-1"]

    # nsxramlclient pages with lower-case pagesize/startindex: 7 edges in pages of 3, 3 and 1.
    edges = client.read_all_pages("nsxEdges", query_parameters_dict={"pagesize": "3", "startindex": "0"})
    assert [e["objectId"] for e in edges] == [f"edge-{n}" for n in range(1, 8)]
    assert {e["edgeType"] for e in edges} == {"gatewayServices", "distributedRouter"}
    assert [e["objectId"] for e in client.read_all_pages("nsxEdges")] == [f"edge-{n}" for n in range(1, 8)]


def test_nsxramlclient_raises_on_bad_credentials(raml_client_factory):
    from nsxramlclient.exceptions import NsxError

    client = raml_client_factory(password="not-the-password")
    with pytest.raises(NsxError) as caught:
        client.read("globalInfo")
    assert caught.value.status == 403
    assert caught.value.msg == b""  # no NSX error document: the credentials were refused, not a permission
