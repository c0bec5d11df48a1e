package main

import (
	"fmt"
	"sort"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// cloneVM is CloneVM_Task as vCenter does it. The simulator's own clone keeps the template's host
// and hardware, ignores powerOn and customization, accepts any host, shares the template's device
// objects (and so rewrites the template's disk path) and panics on a datastore the template's
// host does not mount. Here the clone is placed, checked and built from copies, then made through
// the simulator's CreateVM, customized, and powered on.
func (o *vmOps) cloneVM(method *simulator.Method) (types.AnyType, types.BaseMethodFault) {
	req := method.Body.(*types.CloneVM_Task)
	src, ok := simulator.Map.Get(req.This).(*simulator.VirtualMachine)
	if !ok {
		return nil, &types.NotSupported{}
	}
	var result types.AnyType
	var fault types.BaseMethodFault
	simulator.Map.WithLock(src, func() { result, fault = o.clone(src, req) })
	return result, fault
}

func (o *vmOps) clone(src *simulator.VirtualMachine, req *types.CloneVM_Task) (types.AnyType, types.BaseMethodFault) {
	ctx := o.invoker.context(src.Self)
	folder, ok := simulator.Map.Get(req.Folder).(*simulator.Folder)
	if !ok {
		return nil, &types.InvalidArgument{InvalidProperty: "folder"}
	}
	if dup := vmNamed(folder.ChildEntity, req.Name); dup != nil {
		return nil, &types.DuplicateName{Name: req.Name, Object: *dup}
	}
	place, fault := placeClone(src, &req.Spec.Location)
	if fault != nil {
		return nil, fault
	}
	devices, fault := cloneDevices(src, &req.Spec)
	if fault != nil {
		return nil, fault
	}
	if c := req.Spec.Customization; c != nil {
		nics := len(object.VirtualDeviceList(devices).SelectByType((*types.VirtualEthernetCard)(nil)))
		if nics != len(c.NicSettingMap) {
			return nil, &types.NicSettingMismatch{NumberOfNicsInSpec: int32(len(c.NicSettingMap)), NumberOfNicsInVM: int32(nics)}
		}
	}

	being := &types.VmBeingClonedEvent{DestName: req.Name,
		DestFolder: types.FolderEventArgument{EntityEventArgument: types.EntityEventArgument{Name: folder.Name}, Folder: folder.Self},
		DestHost:   types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: objectName(place.host)}, Host: place.host}}
	being.Event = entityEvent(src)
	postEvents(ctx, being)

	config := cloneConfig(src, req, place, devices)
	created, fault := outcome(folder.CreateVMTask(ctx, &types.CreateVM_Task{This: folder.Self, Config: config, Pool: place.pool, Host: &place.host}))
	if fault != nil {
		return nil, fault
	}
	ref := created.(types.ManagedObjectReference)
	clone := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if c := req.Spec.Customization; c != nil {
		if _, fault := outcome(clone.CustomizeVMTask(&types.CustomizeVM_Task{This: ref, Spec: *c})); fault != nil {
			return nil, fault
		}
	}
	if req.Spec.Template {
		if res := clone.MarkAsTemplate(&types.MarkAsTemplate{This: ref}); res.Fault() != nil {
			return nil, faultOf(res.Fault())
		}
	} else if req.Spec.PowerOn {
		if _, fault := outcome(clone.PowerOnVMTask(ctx, &types.PowerOnVM_Task{This: ref})); fault != nil {
			return nil, fault
		}
	}
	cloned := &types.VmClonedEvent{SourceVm: types.VmEventArgument{EntityEventArgument: types.EntityEventArgument{Name: src.Name}, Vm: src.Self}}
	cloned.Event = entityEvent(clone)
	postEvents(ctx, cloned)
	return ref, nil
}

type placement struct {
	pool, host, datastore types.ManagedObjectReference
	datastoreName         string
}

// placeClone picks the clone's pool, host and datastore as vCenter does (RelocateSpec): a given
// host must belong to the pool's cluster and mount the datastore; without one, the least loaded
// host of the cluster that mounts it (DRS's pick; a cluster without DRS needs a host).
func placeClone(src *simulator.VirtualMachine, loc *types.VirtualMachineRelocateSpec) (placement, types.BaseMethodFault) {
	var p placement
	switch {
	case loc.Pool != nil:
		p.pool = *loc.Pool
	case src.Config.Template || src.ResourcePool == nil:
		return p, &types.InvalidArgument{InvalidProperty: "spec.location.pool"}
	default:
		p.pool = *src.ResourcePool
	}
	pool, ok := simulator.Map.Get(p.pool).(mo.Entity)
	if !ok {
		return p, &types.ManagedObjectNotFound{Obj: p.pool}
	}
	owner, hosts, drs := computeResource(pool)

	if loc.Datastore != nil {
		p.datastore = *loc.Datastore
	} else {
		var path object.DatastorePath
		path.FromString(src.Config.Files.VmPathName)
		if e := simulator.Map.FindByName(path.Datastore, src.Datastore); e != nil {
			p.datastore = e.Reference()
		}
	}
	ds, ok := simulator.Map.Get(p.datastore).(*simulator.Datastore)
	if !ok {
		return p, &types.ManagedObjectNotFound{Obj: p.datastore}
	}
	p.datastoreName = ds.Name

	if loc.Host != nil {
		host, ok := simulator.Map.Get(*loc.Host).(*simulator.HostSystem)
		if !ok {
			return p, &types.ManagedObjectNotFound{Obj: *loc.Host}
		}
		if !contains(hosts, host.Self) {
			fault := &types.InvalidArgument{InvalidProperty: "spec.location.host"}
			fault.FaultMessage = message(fmt.Sprintf("A specified parameter was not correct: spec.location.host (host '%s' is not in '%s', which owns the resource pool)",
				host.Name, objectName(owner)))
			return p, fault
		}
		if !contains(host.Datastore, ds.Self) {
			return p, &types.DatastoreNotWritableOnHost{InvalidDatastore: types.InvalidDatastore{Datastore: &ds.Self, Name: ds.Name}, Host: host.Self}
		}
		p.host = host.Self
		return p, nil
	}
	if !drs {
		return p, &types.InvalidArgument{InvalidProperty: "spec.location.host"}
	}
	var candidates []*simulator.HostSystem
	for _, ref := range hosts {
		host, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if ok && contains(host.Datastore, ds.Self) && !host.Runtime.InMaintenanceMode &&
			host.Runtime.ConnectionState == types.HostSystemConnectionStateConnected {
			candidates = append(candidates, host)
		}
	}
	if len(candidates) == 0 {
		fault := &types.InvalidDatastore{Datastore: &ds.Self, Name: ds.Name}
		fault.FaultMessage = message(fmt.Sprintf("The datastore '%s' is not accessible from any host of '%s'.", ds.Name, objectName(owner)))
		return p, fault
	}
	sort.SliceStable(candidates, func(i, j int) bool { return len(candidates[i].Vm) < len(candidates[j].Vm) })
	p.host = candidates[0].Self
	return p, nil
}

// computeResource is the cluster (or standalone host) owning a resource pool or vApp: its
// reference, hosts, and whether DRS places VMs in it.
func computeResource(pool mo.Entity) (types.ManagedObjectReference, []types.ManagedObjectReference, bool) {
	var owner types.ManagedObjectReference
	switch p := pool.(type) {
	case *simulator.ResourcePool:
		owner = p.Owner
	case *simulator.VirtualApp:
		owner = p.Owner
	}
	switch cr := simulator.Map.Get(owner).(type) {
	case *simulator.ClusterComputeResource:
		config, _ := cr.ConfigurationEx.(*types.ClusterConfigInfoEx)
		drs := config != nil && config.DrsConfig.Enabled != nil && *config.DrsConfig.Enabled
		return owner, cr.Host, drs
	case *mo.ComputeResource:
		return owner, cr.Host, true // a standalone host is the only choice
	}
	return owner, nil, false
}

// cloneDevices copies the source's devices (not the defaults every VM gets) and applies the
// spec's device changes to the copies. Disks get new files (FileName cleared); network cards get
// new MAC addresses unless the spec sets one manually, as vCenter does.
func cloneDevices(src *simulator.VirtualMachine, spec *types.VirtualMachineCloneSpec) ([]types.BaseVirtualDevice, types.BaseMethodFault) {
	defaults := object.VirtualDeviceList(esx.VirtualDevice)
	all := object.VirtualDeviceList(src.Config.Hardware.Device)
	var devices []types.BaseVirtualDevice
	for _, device := range all {
		if defaults.Find(all.Name(device)) == nil {
			devices = append(devices, freshCopy(device, nil))
		}
	}
	changes := spec.Location.DeviceChange
	if spec.Config != nil {
		changes = append(changes, spec.Config.DeviceChange...)
	}
	for i, change := range changes {
		c := change.GetVirtualDeviceConfigSpec()
		key := c.Device.GetVirtualDevice().Key
		at := -1
		for j, d := range devices {
			if d.GetVirtualDevice().Key == key {
				at = j
			}
		}
		switch {
		case c.Operation == types.VirtualDeviceConfigSpecOperationAdd:
			devices = append(devices, freshCopy(c.Device, nil))
		case at < 0:
			return nil, &types.InvalidDeviceSpec{DeviceIndex: int32(i)}
		case c.Operation == types.VirtualDeviceConfigSpecOperationRemove:
			devices = append(devices[:at], devices[at+1:]...)
		case c.Operation == types.VirtualDeviceConfigSpecOperationEdit:
			edited := freshCopy(c.Device, devices[at])
			if disk, ok := edited.(*types.VirtualDisk); ok {
				before, ok := devices[at].(*types.VirtualDisk)
				if !ok || diskSize(disk) < diskSize(before) {
					return nil, &types.InvalidDeviceOperation{InvalidDeviceSpec: types.InvalidDeviceSpec{DeviceIndex: int32(i)}, BadOp: c.Operation}
				}
			}
			devices[at] = edited
		}
	}
	return devices, nil
}

// freshCopy is a deep copy of device for a new VM. A disk keeps the size asked (or, for an edit
// that gives none, the size it had: was) and loses its file, so that CreateVM makes a new one.
func freshCopy(device types.BaseVirtualDevice, was types.BaseVirtualDevice) types.BaseVirtualDevice {
	copied := deepCopy(device).(types.BaseVirtualDevice)
	switch d := copied.(type) {
	case *types.VirtualDisk:
		if before, ok := was.(*types.VirtualDisk); ok && diskSize(d) == 0 {
			d.CapacityInKB, d.CapacityInBytes = before.CapacityInKB, before.CapacityInBytes
		}
		if d.CapacityInBytes != 0 {
			d.CapacityInKB = d.CapacityInBytes / 1024
		}
		d.CapacityInBytes = d.CapacityInKB * 1024
		if b, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			info := b.GetVirtualDeviceFileBackingInfo()
			info.FileName, info.Datastore = "", nil
		}
		if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
			b.Parent = nil
		}
	case types.BaseVirtualEthernetCard:
		nic := d.GetVirtualEthernetCard()
		if nic.AddressType != string(types.VirtualEthernetCardMacTypeManual) {
			nic.MacAddress = ""
		}
	}
	return copied
}

func diskSize(disk *types.VirtualDisk) int64 {
	if disk.CapacityInBytes != 0 {
		return disk.CapacityInBytes
	}
	return disk.CapacityInKB * 1024
}

// cloneConfig is the CreateVM spec of the clone: the source's hardware and extraConfig, with the
// clone spec's config on top.
func cloneConfig(src *simulator.VirtualMachine, req *types.CloneVM_Task, p placement, devices []types.BaseVirtualDevice) types.VirtualMachineConfigSpec {
	hw := src.Config.Hardware
	config := types.VirtualMachineConfigSpec{
		Name:                req.Name,
		GuestId:             src.Config.GuestId,
		Annotation:          src.Config.Annotation,
		Firmware:            src.Config.Firmware,
		Files:               &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", p.datastoreName)},
		NumCPUs:             hw.NumCPU,
		NumCoresPerSocket:   hw.NumCoresPerSocket,
		MemoryMB:            int64(hw.MemoryMB),
		VirtualICH7MPresent: hw.VirtualICH7MPresent,
		VirtualSMCPresent:   hw.VirtualSMCPresent,
	}
	extra := src.Config.ExtraConfig
	if c := req.Spec.Config; c != nil {
		if c.NumCPUs > 0 {
			config.NumCPUs = c.NumCPUs
		}
		if c.NumCoresPerSocket > 0 {
			config.NumCoresPerSocket = c.NumCoresPerSocket
		}
		if c.MemoryMB > 0 {
			config.MemoryMB = c.MemoryMB
		}
		if c.Annotation != "" {
			config.Annotation = c.Annotation
		}
		if c.GuestId != "" {
			config.GuestId = c.GuestId
		}
		config.InstanceUuid, config.Uuid = c.InstanceUuid, c.Uuid
		extra = append(append([]types.BaseOptionValue{}, extra...), c.ExtraConfig...)
	}
	config.ExtraConfig = mergeOptions(extra, "govcsim") // the simulator's own marker comes back by itself
	for _, device := range devices {
		change := &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: device}
		if _, ok := device.(*types.VirtualDisk); ok {
			change.FileOperation = types.VirtualDeviceConfigSpecFileOperationCreate
		}
		config.DeviceChange = append(config.DeviceChange, change)
	}
	return config
}

func contains(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) bool {
	for _, r := range refs {
		if r == ref {
			return true
		}
	}
	return false
}

func message(text string) []types.LocalizableMessage {
	return []types.LocalizableMessage{{Key: "vcsim.harness", Message: text}}
}
