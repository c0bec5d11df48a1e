from inventory.models.connections import NsxManager, SyncRecord, VCenter
from inventory.models.discovered import (
    Cluster,
    Datacenter,
    Datastore,
    DistributedSwitch,
    Folder,
    Host,
    Network,
    ResourcePool,
    VirtualMachine,
    VmTemplate,
)
from inventory.models.live import ExtensionState, InventoryWatch, WatchState
from inventory.models.nsx import NsxController, NsxEdge, NsxTransportZone

__all__ = [
    "Cluster", "Datacenter", "Datastore", "DistributedSwitch", "Folder", "Host", "Network", "NsxController",
    "NsxEdge", "NsxManager", "NsxTransportZone", "ResourcePool", "SyncRecord", "VCenter", "VmTemplate",
    "VirtualMachine", "InventoryWatch", "WatchState", "ExtensionState",
]
