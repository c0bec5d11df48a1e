"""NSX Edges: services gateways and logical routers placed on the vCenter's Edge cluster.

The list, summary and status follow the RAML examples; the detail (no example in the RAML) uses
elements of the nsxEdgesCreate/nsxEdgeUpdate schemas. JSON follows what vmware-nsx reads from
NSX-v 6.x: the list is `{"edgePage": {"data": [...], "pagingInfo": {...}}}` (vcns.get_edges), the
detail has plural wrappers `appliances.appliances`, `vnics.vnics`, `addressGroups.addressGroups`
(edge_appliance_driver.py, edge_utils.py, dynamic_routing/nsx_v/driver.py), the status carries
`edgeStatus` at the top (edge_appliance_driver.get_edge_status).
"""

import time
from dataclasses import dataclass

from simulators.nsxv.common import BAD_PARAMETER, MAX_PAGE_SIZE, not_found
from simulators.nsxv.render import Document, Json, NsxFault, Wrapped
from simulators.nsxv.vcenter import VcenterInventory, VcObject


@dataclass(frozen=True)
class Edge:
    id: str
    name: str
    type: str  # gatewayServices | distributedRouter
    host: str
    datastore: VcObject | None
    uplink: VcObject | None
    index: int


def make_edges(vcenter: VcenterInventory, count: int) -> list[Edge]:
    """The same edges (ids, names, kinds) from any reading; their placement follows the inventory."""
    edge_cluster = vcenter.edge_cluster
    hosts = list(edge_cluster.hosts) if edge_cluster else [h.moid for h in vcenter.hosts]
    datastores = vcenter.datastores
    datastore = next((d for d in datastores if d.name == "vio-shared-nfs"), datastores[0] if datastores else None)
    uplink = next((p for p in vcenter.portgroups if p.name == "VIO-External"), None)
    edges = []
    for n in range(1, count + 1):
        # Every third edge is a distributed (logical) router, as in a VIO cloud with DVR.
        kind = "distributedRouter" if n % 3 == 0 else "gatewayServices"
        name = f"vio-{'dlr' if kind == 'distributedRouter' else 'esg'}-{n:02d}"
        edges.append(Edge(f"edge-{n}", name, kind, hosts[(n - 1) % len(hosts)] if hosts else "", datastore, uplink, n))
    return edges


class EdgeDocuments:
    """Mixed into NsxModel: needs version, started_ms, snapshot() and _managed_object()."""

    @staticmethod
    def _edge(snap, edge_id: str) -> Edge:
        found = next((e for e in snap.edges if e.id == edge_id), None)
        if found is None:
            raise not_found(edge_id)
        return found

    def _edge_summary(self, snap, edge: Edge) -> dict:
        v, dc = self.version, snap.vcenter.datacenter
        edge_cluster = snap.vcenter.edge_cluster
        appliances = {
            "vmVersion": str(v),
            "vmBuildInfo": f"{v}-{v.build}",
            "applianceSize": "compact",
            "fqdn": edge.name,
            "numberOfDeployedVms": 1,
            "activeVseHaIndex": 0,
            "hostMoidOfActiveVse": edge.host,
            "resourcePoolMoidOfActiveVse": edge_cluster.resource_pool if edge_cluster else "",
            "dataStoreMoidOfActiveVse": edge.datastore.moid if edge.datastore else "",
            "dataStoreNameOfActiveVse": edge.datastore.name if edge.datastore else "",
            "statusFromVseUpdatedOn": self.started_ms,
            "communicationChannel": "msgbus",
            "deployAppliances": True,
            "enableFips": False,
        }
        return {
            **self._managed_object(snap, VcObject(edge.id, edge.name, "Edge"), edge.index, scoped=False),
            "id": edge.id,
            "state": "deployed",
            "edgeType": edge.type,
            "datacenterMoid": dc.moid,
            "datacenterName": dc.name,
            "tenantId": "default",
            "apiVersion": "4.0",
            "edgeStatus": "GREEN",
            "numberOfConnectedVnics": 1 if edge.uplink and edge.type == "gatewayServices" else 0,
            "appliancesSummary": appliances,
            "hypervisorAssist": False,
            "localEgressEnabled": False,
        }

    def edge_page(self, start_index: int, page_size: int, datacenter: str | None, tenant: str | None) -> Document:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise NsxFault(
                400, BAD_PARAMETER, f"pageSize {page_size} is out of range: allowed 1-{MAX_PAGE_SIZE}.", "vShield Edge"
            )
        if start_index < 0:
            raise NsxFault(400, BAD_PARAMETER, f"startIndex {start_index} must not be negative.", "vShield Edge")
        snap = self.snapshot()
        edges = [
            e
            for e in snap.edges
            if (datacenter is None or datacenter == snap.vcenter.datacenter.moid) and tenant in (None, "default")
        ]
        page = edges[start_index : start_index + page_size]
        paging = {
            "pageSize": page_size,
            "startIndex": start_index,
            "totalCount": len(edges),
            "sortOrderAscending": True,
            "sortBy": "id",
        }
        summaries = [self._edge_summary(snap, e) for e in page]
        return Document("pagedEdgeList", {"edgePage": {"pagingInfo": paging, "edgeSummary": Json("data", summaries)}})

    def edge_detail(self, edge_id: str) -> Document:
        snap = self.snapshot()
        edge = self._edge(snap, edge_id)
        edge_cluster = snap.vcenter.edge_cluster
        role = "logical router" if edge.type == "distributedRouter" else "services gateway"
        appliance = {
            "resourcePoolId": edge_cluster.resource_pool if edge_cluster else "",
            "datastoreId": edge.datastore.moid if edge.datastore else "",
            "hostId": edge.host,
        }
        body = {
            "id": edge.id,
            "description": f"VIO {role} {edge.index}",
            "datacenterMoid": snap.vcenter.datacenter.moid,
            "name": edge.name,
            "type": edge.type,
            "tenant": "default",
            "fqdn": edge.name,
            "vseLogLevel": "info",
            "enableAesni": True,
            "enableFips": False,
            "appliances": {"applianceSize": "compact", "appliance": Json("appliances", [appliance])},
        }
        if edge.type == "gatewayServices" and edge.uplink:
            # TEST-NET-1 addresses (RFC 5737): data only, never a network target.
            address = {"primaryAddress": f"192.0.2.{10 + edge.index % 240}", "subnetMask": "255.255.255.0"}
            vnic = {
                "index": 0,
                "name": "uplink",
                "type": "uplink",
                "portgroupId": edge.uplink.moid,
                "addressGroups": {"addressGroup": Json("addressGroups", [address])},
                "mtu": 1500,
                "isConnected": True,
            }
            body["vnics"] = {"vnic": Json("vnics", [vnic])}
        body["cliSettings"] = {"userName": "admin", "remoteAccess": False}
        body["autoConfiguration"] = {"enabled": True, "rulePriority": "high"}
        return Document("edge", body)

    def edge_summary(self, edge_id: str) -> Document:
        snap = self.snapshot()
        return Document("edgeSummary", self._edge_summary(snap, self._edge(snap, edge_id)))

    def edge_status(self, edge_id: str) -> Document:
        edge = self._edge(self.snapshot(), edge_id)
        vm_status = {"edgeVMStatus": "GREEN", "haState": "active", "index": 0, "name": f"{edge.name}-0"}
        features = [
            {"service": "firewall", "configured": True, "publishStatus": "Applied"},
            {"service": "highAvailability", "configured": False, "serverStatus": "down"},
        ]
        return Document(
            "edgeStatus",
            {
                "timestamp": int(time.time() * 1000),
                "systemStatus": "good",
                "activeVseHaIndex": 0,
                "edgeStatus": "GREEN",
                "publishStatus": "APPLIED",
                "version": edge.index + 1,
                # XML wraps these lists (<edgeVmStatus><edgeVmStatus>); JSON has flat arrays of the
                # same field names, as for nwfabric's featureStatuses.
                "edgeVmStatus": Wrapped("edgeVmStatus", [vm_status]),
                "featureStatuses": Wrapped("featureStatus", features),
            },
        )
