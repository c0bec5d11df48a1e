"""The emulated NSX Manager's objects, derived from vCenter, and the documents it serves.

Element names and nesting follow the RAML 6.4 `responses: 200` examples (a subset of their
children). Edges are in edges.py; vsmconfig, scopingobjects and basicinfo are not in the RAML
and follow what the vmware-nsx Neutron plugin reads from them.
"""

import threading
import time
import uuid

from simulators.nsxv.common import BAD_PARAMETER, Version, not_found
from simulators.nsxv.edges import EdgeDocuments, make_edges
from simulators.nsxv.render import Document, NsxFault
from simulators.nsxv.vcenter import Cluster, VcenterInventory, VcObject

FABRIC_FEATURES = (
    "com.vmware.vshield.nsxmgr.nwfabric.hostPrep",
    "com.vmware.vshield.nsxmgr.vxlan",
    "com.vmware.vshield.nsxmgr.messagingInfra",
)
TRANSPORT_ZONE_ID, TRANSPORT_ZONE_NAME = "vdnscope-1", "VIO-TZ"


class NsxModel(EdgeDocuments):
    def __init__(self, vcenter: VcenterInventory, version: Version, edge_count: int):
        self.vcenter = vcenter
        self.version = version  # replaced at run time by POST /emulator/version
        self.started_ms = int(time.time() * 1000)
        self.vsm_uuid = str(uuid.uuid4()).upper()
        self.node_id = str(uuid.uuid4())
        self._lock = threading.Lock()
        self.edges = make_edges(vcenter, edge_count)
        self._objects = {o.moid: o for o in vcenter.all_objects()}

    # --- objects -------------------------------------------------------------------------------

    def cluster(self, moid: str) -> Cluster | None:
        return next((c for c in self.vcenter.clusters if c.moid == moid), None)

    # --- shared fragments ----------------------------------------------------------------------

    def _datacenter_scope(self) -> dict:
        dc = self.vcenter.datacenter
        return {"id": dc.moid, "objectTypeName": "Datacenter", "name": dc.name}

    def _managed_object(self, obj: VcObject, revision: int = 1, scoped: bool = True) -> dict:
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
            body["scope"] = self._datacenter_scope()
        body.update({"clientHandle": "", "extendedAttributes": "", "isUniversal": False, "universalRevision": 0})
        return body

    # --- documents -----------------------------------------------------------------------------

    def global_info(self, user: str) -> Document:
        v = self.version
        return Document(
            "globalInfo",
            {
                "currentLoggedInUser": user,
                "versionInfo": {
                    "majorVersion": v.major,
                    "minorVersion": v.minor,
                    "patchVersion": v.patch,
                    "buildNumber": v.build,
                },
            },
        )

    def _scope_body(self) -> dict:
        return {
            "objectId": TRANSPORT_ZONE_ID,
            "objectTypeName": "VdnScope",
            "vsmUuid": self.vsm_uuid,
            "nodeId": self.node_id,
            "revision": 1,
            "type": {"typeName": "VdnScope"},
            "name": TRANSPORT_ZONE_NAME,
            "clientHandle": "",
            "extendedAttributes": "",
            "isUniversal": False,
            "universalRevision": 0,
            "id": TRANSPORT_ZONE_ID,
            "clusters": {"cluster": [{"cluster": self._managed_object(c)} for c in self.vcenter.prepared_clusters]},
            "virtualWireCount": 0,
            "controlPlaneMode": "UNICAST_MODE",
            "cdoModeEnabled": False,
        }

    def scopes(self) -> Document:
        # JSON name as NSX 6.4 returns it for the scope list.
        return Document("vdnScopes", {"vdnScope": [self._scope_body()]}, json_names={"vdnScope": "allScopes"})

    def scope(self, scope_id: str) -> Document:
        if scope_id != TRANSPORT_ZONE_ID:
            raise not_found(scope_id)
        return Document("vdnScope", self._scope_body())

    def controllers(self) -> Document:
        return Document(
            "controllers",
            {
                "controller": [
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
            },
        )

    def switches(self) -> Document:
        return Document(
            "vdsContexts",
            {
                "vdsContext": [
                    {
                        "switch": self._managed_object(s),
                        "mtu": 1600,
                        "teaming": "FAILOVER_ORDER",
                        "uplinkPortName": "Uplink 1",
                        "promiscuousMode": False,
                    }
                    for s in self.vcenter.switches
                ]
            },
        )

    def fabric_status(self, resource: str | None) -> Document:
        if not resource:
            raise NsxFault(400, BAD_PARAMETER, "The query parameter 'resource' (a cluster or host moid) is required.")
        cluster = self.cluster(resource)
        host = next((h for h in self.vcenter.hosts if h.moid == resource), None)
        if cluster is None and host is None:
            # A bad query parameter, not a missing URL: 400 with NSX's object-not-found error.
            raise not_found(resource, status=400)
        if host is not None:
            cluster = next((c for c in self.vcenter.clusters if resource in c.hosts), None)
        prepared = cluster is not None and cluster in self.vcenter.prepared_clusters
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
        obj = cluster or host
        # This example's object header differs from the others: nsxmgrUuid, no nodeId/isUniversal.
        resource = {
            "objectId": obj.moid,
            "objectTypeName": obj.type_name,
            "nsxmgrUuid": self.vsm_uuid,
            "revision": 1,
            "type": {"typeName": obj.type_name},
            "name": obj.name,
            "scope": self._datacenter_scope(),
            "clientHandle": "",
            "extendedAttributes": "",
        }
        return Document(
            "resourceStatuses", {"resourceStatus": [{"resource": resource, "nwFabricFeatureStatus": features}]}
        )

    def _vc_info(self) -> dict:
        vc = self.vcenter
        return {
            "ipAddress": vc.host,
            "userName": vc.username,
            "certificateThumbprint": vc.fingerprint,
            "assignRoleToUser": True,
            "vcInventoryLastUpdateTime": self.started_ms,
        }

    def vcconfig(self) -> Document:
        return Document("vcInfo", self._vc_info())

    def vcconfig_status(self) -> Document:
        return Document("vcConfigStatus", {"connected": True, "lastInventorySyncTime": self.started_ms})

    def vsmconfig(self) -> Document:
        # Not in the RAML; vmware-nsx reads only "version" from its JSON form.
        return Document(
            "vsmGlobalConfig",
            {
                "version": str(self.version),
                "buildNumber": self.version.build,
                "uuid": self.vsm_uuid,
                "vcInfo": self._vc_info(),
            },
        )

    def scoping_objects(self) -> Document:
        # Not in the RAML; vmware-nsx iterates <object> for objectTypeName, objectId and name.
        objects = [
            VcObject("globalroot-0", "Global", "GlobalRoot"),
            *self._objects.values(),
            VcObject(TRANSPORT_ZONE_ID, TRANSPORT_ZONE_NAME, "VdnScope"),
            *(VcObject(e.id, e.name, "Edge") for e in self.edges),
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
        obj = self._objects.get(moid)
        if obj is None:
            raise not_found(moid)
        return Document(
            "basicinfo",
            {
                "objectId": obj.moid,
                "objectTypeName": obj.type_name,
                "name": obj.name,
                "scope": self._datacenter_scope(),
            },
        )

    def set_version(self, version: Version) -> None:
        with self._lock:
            self.version = version
