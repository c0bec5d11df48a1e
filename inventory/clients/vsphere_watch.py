"""Watch a vCenter's whole stored inventory with one WaitForUpdatesEx loop.

One private PropertyCollector holds one filter: a ContainerView per type over the root folder, the
properties the stored picture keeps (vsphere_inventory.PROPERTIES: the same as the full sync, the
cluster rules among them), and the custom attributes' names. The first answer (version "") is the
whole state; each later one brings only what changed. A Mirror keeps the raw state (VMs compact)
and turns it into the same Snapshot the full sync builds, so both store the same rows.

Everything here is vCenter-facing; leases, storing and recovering from gaps are the watcher
service's (inventory/services/watcher.py).
"""

import logging

from pyVmomi import VmomiSupport, vim, vmodl

from inventory.clients.fastcollect import retrieve_properties, wait_for_updates
from inventory.clients.vsphere_inventory import (
    FIELD_PROPERTIES, PROPERTIES, Snapshot, build_snapshot, compact_vm, compact_vm_value, field_names, vm_row,
)

log = logging.getLogger(__name__)
PC = vmodl.query.PropertyCollector

# One ContainerView per type; subtypes come with their type (clusters with ComputeResource, port
# groups and opaque networks with Network, vApps with ResourcePool).
VIEW_TYPES = [vim.Datacenter, vim.Folder, vim.ComputeResource, vim.HostSystem, vim.Datastore, vim.Network,
              vim.DistributedVirtualSwitch, vim.ResourcePool, vim.VirtualMachine]
ASSIGN = ("assign", "add")
UNSET = ("remove", "indirectRemove")


class FilterGone(Exception):
    """The filter, its collector or its views no longer exist (a session that ended takes them)."""


def _paths_of(type_name: str) -> frozenset:
    """The properties watched for an object of this wire type (its own and its supertypes')."""
    try:
        cls = VmomiSupport.GetWsdlType("urn:vim25", type_name)
    except KeyError:
        return frozenset()
    paths = set()
    for kind, names in {**PROPERTIES, **FIELD_PROPERTIES}.items():
        if issubclass(cls, kind):
            paths.update(names)
    return frozenset(paths)


_PATHS: dict[str, frozenset] = {}


def watched_paths(type_name: str) -> frozenset:
    if type_name not in _PATHS:
        _PATHS[type_name] = _paths_of(type_name)
    return _PATHS[type_name]


class Mirror:
    """The watched state: {moid: (type, properties)} for all but VMs, {moid: compact properties} for
    VMs, and the custom attributes' names. apply() takes one object update and says what changed."""

    def __init__(self):
        self.objects: dict[str, tuple[str, dict]] = {}
        self.vms: dict[str, dict] = {}
        self.fields: dict[int, str] = {}
        self.places = None  # derived from the non-VM objects; rebuilt after they change

    # --- applying updates -----------------------------------------------------------------------

    def put(self, kind: str, moid: str, props: dict) -> None:
        """An object's whole state (an enter, or a re-read)."""
        if kind == "CustomFieldsManager":
            self.fields = field_names(props.get("field"))
        elif kind == "VirtualMachine":
            self.vms[moid] = compact_vm(props)
        else:
            self.objects[moid] = (kind, dict(props))
            self.places = None

    def apply(self, kind: str, obj_type: str, moid: str, changes: list, changed: "Changes") -> None:
        if kind == "leave":  # a removal is a changed object too (the watch's update count)
            if obj_type == "VirtualMachine":
                if self.vms.pop(moid, None) is not None:
                    changed.vms_gone.add(moid)
                    changed.vms.discard(moid)
                    changed.objects += 1
            elif self.objects.pop(moid, None) is not None:
                changed.others = True
                changed.objects += 1
                self.places = None
            return
        if kind == "enter":
            self.put(obj_type, moid, {name: value for name, op, value in changes if op in ASSIGN})
            changed.note(obj_type, moid)
            return
        paths = watched_paths(obj_type)
        if obj_type == "VirtualMachine":
            props = self.vms.setdefault(moid, {})
        elif obj_type == "CustomFieldsManager":
            props = {}
        else:
            props = self.objects.setdefault(moid, (obj_type, {}))[1]
        for name, op, value in changes:
            if name not in paths:
                # A change below a watched property (vCenter may name the exact path that changed,
                # e.g. summary.quickStats.overallCpuUsage, or an array element): read the object again.
                changed.reread.add((obj_type, moid))
                continue
            if obj_type == "CustomFieldsManager":
                if name == "field":
                    self.fields = field_names(value if op in ASSIGN else [])
            elif op in UNSET:
                props.pop(name, None)
            else:
                props[name] = compact_vm_value(name, value) if obj_type == "VirtualMachine" else value
        changed.note(obj_type, moid)
        if obj_type not in ("VirtualMachine", "CustomFieldsManager"):
            self.places = None

    # --- what to store ----------------------------------------------------------------------------

    def by_type(self, with_vms: bool = True) -> dict:
        grouped: dict[str, list] = {}
        for moid, (kind, props) in self.objects.items():
            grouped.setdefault(kind, []).append((moid, props))
        if with_vms:
            grouped["VirtualMachine"] = list(self.vms.items())
        return grouped

    def snapshot(self) -> Snapshot:
        return build_snapshot(self.by_type(), self.fields)

    def vm_rows(self, moids) -> dict[str, dict]:
        """The stored values of some VMs, from the mirror (places derived from the other objects)."""
        if self.places is None:
            self.places = build_snapshot(self.by_type(with_vms=False), self.fields)
        places = self.places
        host_clusters = {h: host["cluster"] for h, host in places.hosts.items() if host["cluster"] in places.clusters}
        parents = {moid: props.get("parent") for moid, (_, props) in self.objects.items()}

        def datacenter_of(moid):
            for _ in range(64):
                if moid is None or moid in places.datacenters:
                    return moid
                moid = parents.get(moid)
            return None

        return {moid: vm_row(moid, self.vms[moid], host_clusters, datacenter_of(self.vms[moid].get("parent")), self.fields)
                for moid in moids if moid in self.vms}


class Changes:
    """What one answer changed: VMs to write or delete, whether anything else changed, and the
    objects to read again (a change below a watched property)."""

    def __init__(self):
        self.vms: set[str] = set()
        self.vms_gone: set[str] = set()
        self.others = False
        self.reread: set[tuple[str, str]] = set()
        self.objects = 0

    def note(self, obj_type: str, moid: str) -> None:
        self.objects += 1
        if obj_type == "VirtualMachine":
            self.vms.add(moid)
            self.vms_gone.discard(moid)
        else:
            self.others = True

    def __bool__(self) -> bool:
        return bool(self.vms or self.vms_gone or self.others or self.reread)


class InventoryWatch:
    """The filter over everything stored, on a private collector of the session `si`."""

    def __init__(self, si):
        self.si = si
        self.round_trips = 0
        content = self.content = si.RetrieveContent()
        self.collector = content.propertyCollector.CreatePropertyCollector()
        self.views = [content.viewManager.CreateContainerView(content.rootFolder, [kind], True) for kind in VIEW_TYPES]
        traversal = PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
        objects = [PC.ObjectSpec(obj=view, skip=True, selectSet=[traversal]) for view in self.views]
        if content.customFieldsManager is not None:
            objects.append(PC.ObjectSpec(obj=content.customFieldsManager, skip=False))
        properties = [PC.PropertySpec(type=kind, pathSet=paths, all=False)
                      for kind, paths in {**PROPERTIES, **FIELD_PROPERTIES}.items()]
        self.filter = self.collector.CreateFilter(PC.FilterSpec(objectSet=objects, propSet=properties), True)
        self.version = ""
        self.round_trips += 3 + len(self.views)
        self.mirror = Mirror()

    def next(self, max_wait_seconds: int) -> Changes:
        """One long poll: the changes it brought, applied to the mirror (empty when the wait ended
        quietly: vCenter answered all the same). The first call returns the whole state. Raises FilterGone when vCenter no longer
        knows the filter; vim.fault.InvalidCollectorVersion, NotAuthenticated or a network error
        as they come (every one of them is a gap for the caller)."""
        changed = Changes()
        while True:
            try:
                answer = wait_for_updates(self.collector, self.version, max_wait_seconds,
                                          lambda kind, obj_type, moid, changes:
                                          self.mirror.apply(kind, obj_type, moid, changes, changed))
            except vmodl.fault.ManagedObjectNotFound as fault:
                raise FilterGone(f"vCenter no longer knows {getattr(fault.obj, '_moId', 'the collector')}") from None
            self.round_trips += 1
            if answer is None:
                break
            self.version, truncated = answer
            if not truncated:
                break
            max_wait_seconds = 0  # more of the same answer is waiting: take it now
        if changed.reread:
            self.reread(changed.reread)
        return changed

    def reread(self, objects: set[tuple[str, str]]) -> None:
        """Read some objects' watched properties again, in one round trip."""
        stub = self.si._stub
        by_type: dict[str, list] = {}
        for obj_type, moid in objects:
            by_type.setdefault(obj_type, []).append(moid)
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=VmomiSupport.GetWsdlType("urn:vim25", t)(moid, stub), skip=False)
                       for t, moids in by_type.items() for moid in moids],
            propSet=[PC.PropertySpec(type=VmomiSupport.GetWsdlType("urn:vim25", t), pathSet=sorted(watched_paths(t)), all=False)
                     for t in by_type],
        )
        try:
            _, pages = retrieve_properties(self.si, [spec], collector=self.content.propertyCollector,
                                           on_object=self.mirror.put)
        except vmodl.fault.ManagedObjectNotFound:
            pages = 1  # gone meanwhile: its leave is on its way
        self.round_trips += pages

    def close(self) -> None:
        """Free the collector and views (best effort: they may have ended with their session)."""
        for call in [self.filter.Destroy, *[view.DestroyView for view in self.views], self.collector.Destroy]:
            try:
                call()
            except Exception:  # gone with the session, or vCenter unreachable: nothing left to free
                log.debug("could not free a watch object", exc_info=True)
