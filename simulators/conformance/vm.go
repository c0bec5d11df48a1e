package main

import (
	"context"
	"flag"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// The typed lookups below take "Type:id", an inventory path or a plain name (searched under the
// datacenter by govmomi's finder, as an administrator would type it).

func (e *env) vm(ctx context.Context, arg string) (*object.VirtualMachine, error) {
	if ref, ok := parseMoref(arg); ok {
		return object.NewVirtualMachine(e.session.client, ref), nil
	}
	return e.finder.VirtualMachine(ctx, arg)
}

func (e *env) host(ctx context.Context, arg string) (*object.HostSystem, error) {
	if ref, ok := parseMoref(arg); ok {
		return object.NewHostSystem(e.session.client, ref), nil
	}
	return e.finder.HostSystem(ctx, arg)
}

func (e *env) datastore(ctx context.Context, arg string) (*object.Datastore, error) {
	if ref, ok := parseMoref(arg); ok {
		return object.NewDatastore(e.session.client, ref), nil
	}
	return e.finder.Datastore(ctx, arg)
}

func (e *env) pool(ctx context.Context, arg string) (*object.ResourcePool, error) {
	if ref, ok := parseMoref(arg); ok {
		return object.NewResourcePool(e.session.client, ref), nil
	}
	return e.finder.ResourcePool(ctx, arg)
}

// folder is the named VM folder, or the datacenter's VM folder.
func (e *env) folder(ctx context.Context, arg string) (*object.Folder, error) {
	if ref, ok := parseMoref(arg); ok {
		return object.NewFolder(e.session.client, ref), nil
	}
	if arg == "" {
		folders, err := e.dc.Folders(ctx)
		if err != nil {
			return nil, err
		}
		return folders.VmFolder, nil
	}
	return e.finder.Folder(ctx, arg)
}

func (e *env) network(ctx context.Context, arg string) (object.NetworkReference, error) {
	if ref, ok := parseMoref(arg); ok {
		if network, ok := object.NewReference(e.session.client, ref).(object.NetworkReference); ok {
			return network, nil
		}
		return nil, usagef("%s is not a network", arg)
	}
	return e.finder.Network(ctx, arg)
}

// placement is the relocate spec of a clone: each of host, datastore and pool left out ("") is
// left to vCenter.
func (e *env) placement(ctx context.Context, hostArg, dsArg, poolArg string) (types.VirtualMachineRelocateSpec, error) {
	var spec types.VirtualMachineRelocateSpec
	if hostArg != "" {
		host, err := e.host(ctx, hostArg)
		if err != nil {
			return spec, err
		}
		spec.Host = types.NewReference(host.Reference())
	}
	if dsArg != "" {
		ds, err := e.datastore(ctx, dsArg)
		if err != nil {
			return spec, err
		}
		spec.Datastore = types.NewReference(ds.Reference())
	}
	if poolArg != "" {
		pool, err := e.pool(ctx, poolArg)
		if err != nil {
			return spec, err
		}
		spec.Pool = types.NewReference(pool.Reference())
	}
	return spec, nil
}

// taskError is a task that ended in a fault; the error names the task, so that its info can be
// read afterwards (task-info).
type taskError struct {
	task types.ManagedObjectReference
	err  error
}

func (e taskError) Error() string { return e.err.Error() }
func (e taskError) Unwrap() error { return e.err }

// finish waits for the task a method returned (unless the method itself failed) and returns what
// the task commands print: the task, its state and its result.
func finish(ctx context.Context, t *object.Task, err error) (interface{}, error) {
	if err != nil {
		return nil, err
	}
	info, err := t.WaitForResult(ctx, nil)
	if err != nil {
		return nil, taskError{task: t.Reference(), err: err}
	}
	out := map[string]interface{}{"task": morefString(t.Reference()), "state": info.State}
	if ref, ok := info.Result.(types.ManagedObjectReference); ok {
		out["result"] = morefString(ref)
	}
	return out, nil
}

// runClone is VirtualMachine.CloneVM_Task with each placement given separately: the host need not
// belong to the pool's cluster, so vCenter, not this client, decides whether they fit together.
func runClone(ctx context.Context, e *env, args []string) (interface{}, error) {
	fs := flag.NewFlagSet("clone", flag.ContinueOnError)
	source := fs.String("vm", "", "the VM or template to clone")
	name := fs.String("name", "", "the clone's name")
	hostArg := fs.String("host", "", "the host (default: vCenter picks one of the pool's cluster)")
	dsArg := fs.String("ds", "", "the datastore (default: the source's)")
	poolArg := fs.String("pool", "", "the resource pool")
	folderArg := fs.String("folder", "", "the VM folder (default: the datacenter's)")
	cpus := fs.Int("cpu", 0, "number of vCPUs (default: the source's)")
	memory := fs.Int64("mem", 0, "memory in MB (default: the source's)")
	netArg := fs.String("net", "", "put the first NIC on this network (adding one if there is none)")
	powerOn := fs.Bool("on", false, "power the clone on")
	if positional, err := parseFlags(fs, args); err != nil {
		return nil, err
	} else if len(positional) > 0 || *source == "" || *name == "" {
		return nil, usagef("clone takes -vm and -name, and no positional arguments")
	}
	vm, err := e.vm(ctx, *source)
	if err != nil {
		return nil, err
	}
	folder, err := e.folder(ctx, *folderArg)
	if err != nil {
		return nil, err
	}
	spec := types.VirtualMachineCloneSpec{PowerOn: *powerOn}
	if spec.Location, err = e.placement(ctx, *hostArg, *dsArg, *poolArg); err != nil {
		return nil, err
	}
	config := &types.VirtualMachineConfigSpec{NumCPUs: int32(*cpus), MemoryMB: *memory}
	if *netArg != "" {
		change, err := e.firstNICOn(ctx, vm, *netArg)
		if err != nil {
			return nil, err
		}
		config.DeviceChange = []types.BaseVirtualDeviceConfigSpec{change}
	}
	if config.NumCPUs != 0 || config.MemoryMB != 0 || len(config.DeviceChange) > 0 {
		spec.Config = config
	}
	t, err := vm.Clone(ctx, folder, *name, spec)
	return finish(ctx, t, err)
}

// firstNICOn is the device change that puts vm's first NIC on the network, or adds a VMXNET3
// NIC there when vm has none (the appliance template has none).
func (e *env) firstNICOn(ctx context.Context, vm *object.VirtualMachine, networkArg string) (*types.VirtualDeviceConfigSpec, error) {
	network, err := e.network(ctx, networkArg)
	if err != nil {
		return nil, err
	}
	backing, err := network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return nil, err
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		return nil, err
	}
	if nics := devices.SelectByType((*types.VirtualEthernetCard)(nil)); len(nics) > 0 {
		nics[0].(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().Backing = backing
		return &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: nics[0]}, nil
	}
	nic, err := devices.CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return nil, err
	}
	return &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: nic}, nil
}

func runPower(ctx context.Context, e *env, args []string) (interface{}, error) {
	fs := flag.NewFlagSet("power", flag.ContinueOnError)
	on := fs.Bool("on", false, "power on")
	off := fs.Bool("off", false, "power off")
	positional, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(positional) != 1 || *on == *off {
		return nil, usagef("power takes -on or -off, and one VM")
	}
	vm, err := e.vm(ctx, positional[0])
	if err != nil {
		return nil, err
	}
	power := vm.PowerOff
	if *on {
		power = vm.PowerOn
	}
	t, err := power(ctx)
	return finish(ctx, t, err)
}

// runCustomize is CustomizeVM_Task with a Linux identity and one static address on the first NIC.
func runCustomize(ctx context.Context, e *env, args []string) (interface{}, error) {
	fs := flag.NewFlagSet("customize", flag.ContinueOnError)
	source := fs.String("vm", "", "the VM")
	ip := fs.String("ip", "", "the first NIC's address")
	netmask := fs.String("netmask", "", "its netmask")
	gateway := fs.String("gateway", "", "its gateway")
	hostname := fs.String("hostname", "", "the guest's host name (default: the VM's name)")
	domain := fs.String("domain", "", "the guest's domain")
	var dns stringList
	fs.Var(&dns, "dns", "a DNS server (repeatable)")
	if positional, err := parseFlags(fs, args); err != nil {
		return nil, err
	} else if len(positional) > 0 || *source == "" || *ip == "" || *netmask == "" {
		return nil, usagef("customize takes -vm, -ip and -netmask, and no positional arguments")
	}
	vm, err := e.vm(ctx, *source)
	if err != nil {
		return nil, err
	}
	identity := &types.CustomizationLinuxPrep{Domain: *domain}
	if *hostname != "" {
		identity.HostName = &types.CustomizationFixedName{Name: *hostname}
	} else {
		identity.HostName = &types.CustomizationVirtualMachineName{}
	}
	adapter := types.CustomizationIPSettings{Ip: &types.CustomizationFixedIp{IpAddress: *ip}, SubnetMask: *netmask}
	if *gateway != "" {
		adapter.Gateway = []string{*gateway}
	}
	spec := types.CustomizationSpec{
		Identity:         identity,
		GlobalIPSettings: types.CustomizationGlobalIPSettings{DnsServerList: dns},
		NicSettingMap:    []types.CustomizationAdapterMapping{{Adapter: adapter}},
	}
	t, err := vm.Customize(ctx, spec)
	return finish(ctx, t, err)
}
