"""The emulated NSX Manager's objects, derived from vCenter, and the documents it serves.

XML element names and nesting follow the RAML 6.4 `responses: 200` examples (a subset of their
children). The RAML has no JSON examples; JSON follows what clients of real NSX-v 6.x managers
read (each document says which), see render.py for how the two differ. Edges are in edges.py;
vsmconfig, scopingobjects and basicinfo are not in the RAML and follow what the vmware-nsx
Neutron plugin reads from them.

The inventory is re-read from vCenter when stale (vcenter.VcenterSource); everything derived from
it (edges, the object index) is rebuilt from each new reading, so objects added to or removed from
vCenter appear in or vanish from NSX's answers.
"""

import threading
import time
import uuid
from dataclasses import dataclass, field

from simulators.nsxv.common import BAD_PARAMETER, Version, not_found
from simulators.nsxv.edges import Edge, EdgeDocuments, make_edges
from simulators.nsxv.render import Document, Json, NsxFault, Wrapped
from simulators.nsxv.vcenter import Cluster, VcenterInventory, VcenterSource, VcObject

FABRIC_FEATURES = (
    "com.vmware.vshield.nsxmgr.nwfabric.hostPrep",
    "com.vmware.vshield.nsxmgr.vxlan",
    "com.vmware.vshield.nsxmgr.messagingInfra",
)
TRANSPORT_ZONE_ID, TRANSPORT_ZONE_NAME = "vdnscope-1", "VIO-TZ"
# 6.2.3 moved GET /1.0/appliance-management/global/info from JSON to XML (PowerNSX's
# Connect-NsxServer reads both): older managers answer it in JSON whatever the Accept header.
GLOBAL_INFO_XML_SINCE = (6, 2, 3)


def _no_attributes() -> Wrapped:
    # <extendedAttributes/> in XML, an empty list in JSON.
    return Wrapped("extendedAttribute", [])


@dataclass
class Snapshot:
    """One vCenter reading and what the emulator derives from it."""

    vcenter: VcenterInventory
    edges: list[Edge]
    objects: dict[str, VcObject] = field(default_factory=dict)

    def cluster(self, moid: str) -> Cluster | None:
        return next((c for c in self.vcenter.clusters if c.moid == moid), None)

    def host(self, moid: str) -> VcObject | None:
        return next((h for h in self.vcenter.hosts if h.moid == moid), None)


class NsxModel(EdgeDocuments):
    def __init__(self, source: VcenterSource, version: Version, edge_count: int):
        self.source = source
        self.version = version  # replaced at run time by POST /emulator/version
        self.edge_count = edge_count
        self.started_ms = int(time.time() * 1000)
        self.vsm_uuid = str(uuid.uuid4()).upper()
        self.node_id = str(uuid.uuid4())
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        """The current reading of vCenter (re-read when stale), with the edges placed on it."""
        inventory = self.source.current()
        with self._lock:
            if self._snapshot is None or self._snapshot.vcenter is not inventory:
                self._snapshot = Snapshot(
                    inventory, make_edges(inventory, self.edge_count), {o.moid: o for o in inventory.all_objects()}
                )
            return self._snapshot

    # --- shared fragments ----------------------------------------------------------------------

    @staticmethod
    def _datacenter_scope(snap: Snapshot) -> dict:
        dc = snap.vcenter.datacenter
        return {"id": dc.moid, "objectTypeName": "Datacenter", "name": dc.name}

    def _managed_object(self, snap: Snapshot, obj: VcObject, revision: int = 1, scoped: bool = True) -> dict:
        """The common header of NSX objects (objectId … universalRevision) for a vCenter object."""
        body = {
            "objectId": obj.moid,
            "objectTypeName": obj.type_name,
            "vsmUuid": self.vsm_uuid,
            "nodeId": self.node_id,
            "revision": revision,
            "type": {"typeName": obj.type_name},
            "name": obj.name,
        }
        if scoped:
            body["scope"] = self._datacenter_scope(snap)
        body.update(
            {"clientHandle": "", "extendedAttributes": _no_attributes(), "isUniversal": False, "universalRevision": 0}
        )
        return body

    # --- documents -----------------------------------------------------------------------------

    def global_info(self, user: str) -> Document:
        v = self.version
        # Strings in JSON too: vmware-nsx-tempest-plugin's nsxv_client.get_vsm_version joins them with ".".
        info = {
            "currentLoggedInUser": user,
            "versionInfo": {
                "majorVersion": str(v.major),
                "minorVersion": str(v.minor),
                "patchVersion": str(v.patch),
                "buildNumber": str(v.build),
            },
        }
        return Document("globalInfo", info, json_only=(v.major, v.minor, v.patch) < GLOBAL_INFO_XML_SINCE)

    def _scope_body(self, snap: Snapshot) -> dict:
        clusters = [{"cluster": self._managed_object(snap, c)} for c in snap.vcenter.prepared_clusters]
        return {
            "objectId": TRANSPORT_ZONE_ID,
            "objectTypeName": "VdnScope",
            "vsmUuid": self.vsm_uuid,
            "nodeId": self.node_id,
            "revision": 1,
            "type": {"typeName": "VdnScope"},
            "name": TRANSPORT_ZONE_NAME,
            "clientHandle": "",
            "extendedAttributes": _no_attributes(),
            "isUniversal": False,
            "universalRevision": 0,
            "id": TRANSPORT_ZONE_ID,
            # JSON: "clusters": {"clusters": [{"cluster": {...}}]}, the shape NSX takes in POST /2.0/vdn/scopes.
            "clusters": {"cluster": Json("clusters", clusters)},
            "virtualWireCount": 0,
            "controlPlaneMode": "UNICAST_MODE",
            "cdoModeEnabled": False,
        }

    def scopes(self) -> Document:
        # JSON: {"allScopes": [...]} (vmware-nsx devstack/tools/nsxv_cleanup.py, the tempest plugin's nsxv_client).
        return Document("vdnScopes", {"vdnScope": Json("allScopes", [self._scope_body(self.snapshot())])})

    def scope(self, scope_id: str) -> Document:
        if scope_id != TRANSPORT_ZONE_ID:
            raise not_found(scope_id)
        return Document("vdnScope", self._scope_body(self.snapshot()))

    def controllers(self) -> Document:
        controllers = [
            {
                "id": f"controller-{n}",
                "name": f"vio-controller-{n}",
                "description": "",
                "ipAddress": f"192.0.2.{200 + n}",
                "status": "RUNNING",
                "diskLatencyAlertDetected": False,
            }
            for n in (1, 2, 3)
        ]
        # JSON: {"controllers": [...]}, the list field named in the plural as in every NSX-v list DTO
        # whose JSON is known (allScopes, switches, statuses); no client we could read shows this one.
        return Document("controllers", {"controller": Json("controllers", controllers)})

    def switches(self) -> Document:
        snap = self.snapshot()
        contexts = [
            {
                # JSON names from vmware-nsx (dvs.py reads switchObj.objectId, teamingPolicy and
                # failoverUplinkPortNames of GET /2.0/vdn/switches/{id}) and cPodFactory's
                # list_dvs.sh (.switches[].switchObj.objectId of GET /2.0/vdn/switches).
                "switch": Json("switchObj", self._managed_object(snap, s)),
                "mtu": 1600,
                "teaming": Json("teamingPolicy", "FAILOVER_ORDER"),
                "uplinkPortName": Json("failoverUplinkPortNames", ["Uplink 1"]),
                "promiscuousMode": False,
            }
            for s in snap.vcenter.switches
        ]
        return Document("vdsContexts", {"vdsContext": Json("switches", contexts)})

    def fabric_status(self, resource: str | None) -> Document:
        """The host preparation of one cluster or one host: the status of the object asked for."""
        if not resource:
            raise NsxFault(400, BAD_PARAMETER, "The query parameter 'resource' (a cluster or host moid) is required.")
        snap = self.snapshot()
        obj = snap.cluster(resource) or snap.host(resource)
        if obj is None:
            # A bad query parameter, not a missing URL: 400 with NSX's object-not-found error.
            raise not_found(resource, status=400)
        # A host is prepared when its cluster is.
        if not isinstance(obj, Cluster):
            obj_cluster = next((c for c in snap.vcenter.clusters if obj.moid in c.hosts), None)
        else:
            obj_cluster = obj
        prepared = obj_cluster is not None and obj_cluster in snap.vcenter.prepared_clusters
        features = [
            {
                "featureId": feature,
                "featureVersion": f"{self.version}.{self.version.build}",
                "updateAvailable": False,
                "status": "GREEN" if prepared else "UNKNOWN",
                "installed": prepared,
            }
            for feature in FABRIC_FEATURES
        ]
        # This example's object header differs from the others: nsxmgrUuid, no nodeId/isUniversal.
        header = {
            "objectId": obj.moid,
            "objectTypeName": obj.type_name,
            "nsxmgrUuid": self.vsm_uuid,
            "revision": 1,
            "type": {"typeName": obj.type_name},
            "name": obj.name,
            "scope": self._datacenter_scope(snap),
            "clientHandle": "",
            "extendedAttributes": _no_attributes(),
        }
        # JSON: {"statuses": [{"resource": ..., "featureStatuses": [...]}]}, as a public NSX-v lab
        # deployment script reads it (prep_status['statuses'][0]['featureStatuses']).
        status = {"resource": header, "nwFabricFeatureStatus": Json("featureStatuses", features)}
        return Document("resourceStatuses", {"resourceStatus": Json("statuses", [status])})

    def _vc_info(self, snap: Snapshot) -> dict:
        vc = snap.vcenter
        return {
            "ipAddress": vc.host,
            "userName": vc.username,
            "certificateThumbprint": vc.fingerprint,
            "assignRoleToUser": True,
            "vcInventoryLastUpdateTime": self.source.synced_ms,
        }

    def vcconfig(self) -> Document:
        return Document("vcInfo", self._vc_info(self.snapshot()))

    def vcconfig_status(self) -> Document:
        self.snapshot()  # a status request re-reads a stale inventory, as NSX's sync keeps going
        return Document(
            "vcConfigStatus", {"connected": self.source.connected, "lastInventorySyncTime": self.source.synced_ms}
        )

    def vsmconfig(self) -> Document:
        # Not in the RAML; vmware-nsx reads only "version" from its JSON form.
        return Document(
            "vsmGlobalConfig",
            {
                "version": str(self.version),
                "buildNumber": self.version.build,
                "uuid": self.vsm_uuid,
                "vcInfo": self._vc_info(self.snapshot()),
            },
        )

    def scoping_objects(self) -> Document:
        # Not in the RAML; vmware-nsx reads the XML and iterates <object> for objectTypeName, objectId
        # and name. Its JSON form is not known: the emulator gives the XML's shape.
        snap = self.snapshot()
        objects = [
            VcObject("globalroot-0", "Global", "GlobalRoot"),
            *snap.objects.values(),
            VcObject(TRANSPORT_ZONE_ID, TRANSPORT_ZONE_NAME, "VdnScope"),
            *(VcObject(e.id, e.name, "Edge") for e in snap.edges),
        ]
        return Document(
            "scopingObjects",
            {
                "object": [
                    {
                        "objectId": o.moid,
                        "objectTypeName": o.type_name,
                        "type": {"typeName": o.type_name},
                        "name": o.name,
                    }
                    for o in objects
                ]
            },
        )

    def basic_info(self, moid: str) -> Document:
        # Not in the RAML; vmware-nsx reads "name" from its JSON form.
        snap = self.snapshot()
        obj = snap.objects.get(moid)
        if obj is None:
            raise not_found(moid)
        return Document(
            "basicinfo",
            {
                "objectId": obj.moid,
                "objectTypeName": obj.type_name,
                "name": obj.name,
                "scope": self._datacenter_scope(snap),
            },
        )

    def set_version(self, version: Version) -> None:
        with self._lock:
            self.version = version
