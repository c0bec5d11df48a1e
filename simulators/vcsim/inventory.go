package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Scale adds generic objects to the VIO inventory, for benchmarks.
type Scale struct {
	Datacenters, Clusters, HostsPerCluster, VMs, Portgroups, Datastores int
}

type clusterShape struct {
	name    string
	prefix  string // host name prefix
	hosts   int
	compute bool
}

// The clusters a VIO deployment picks from: management, NSX edge, and two compute clusters.
var vioClusters = []clusterShape{
	{"Management", "mgmt", 3, false},
	{"Edge", "edge", 2, false},
	{"Compute-A", "compa", 4, true},
	{"Compute-B", "compb", 2, true},
}

type portgroupShape struct {
	name  string
	vlan  int32 // -1: trunk 0-4094
	ports int32
}

var vioPortgroups = []portgroupShape{
	{"VIO-Management", 100, 128},
	{"VIO-External", 200, 64},
	{"VIO-Data-Trunk", -1, 256},
}

const (
	vioDatacenter = "VIO-Datacenter"
	vioSwitch     = "VIO-DSwitch"
)

type builder struct {
	ids     *vcenterIDs
	ctx     context.Context
	client  *vim25.Client
	dataDir string
	counts  map[string]int
}

// buildInventory creates the inventory through the simulator's own API, in process (no HTTP),
// so that every object is what a real client would have made.
func buildInventory(ctx context.Context, service *simulator.Service, scale Scale, ids *vcenterIDs) (map[string]int, error) {
	client, err := vim25.NewClient(ctx, service)
	if err != nil {
		return nil, err
	}
	dataDir, err := os.MkdirTemp("", "vio-vcsim-")
	if err != nil {
		return nil, err
	}
	b := &builder{ids: ids, ctx: ctx, client: client, dataDir: dataDir, counts: map[string]int{}}
	setHostHardware()
	for n := 0; n < max(scale.Datacenters, 1); n++ {
		name := vioDatacenter
		if n > 0 {
			name = fmt.Sprintf("DC-%02d", n)
		}
		if err := b.datacenter(name, n == 0, scale); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return b.counts, nil
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// setHostHardware makes every new host a 2-socket, 24-core, 256 GiB server, so that capacity
// checks meet the figures of a real management cluster (the simulator's default is 2 cores, 4 GB).
func setHostHardware() {
	const cores, mhz, memory = 24, 2600, int64(256) << 30
	hw := esx.HostSystem.Summary.Hardware
	hw.Vendor, hw.Model = "VMware, Inc. (simulated)", "VIO simulated host"
	hw.NumCpuPkgs, hw.NumCpuCores, hw.NumCpuThreads = 2, cores, cores*2
	hw.CpuMhz, hw.MemorySize = mhz, memory
	esx.HostHardwareInfo.CpuInfo = types.HostCpuInfo{
		NumCpuPackages: 2, NumCpuCores: cores, NumCpuThreads: cores * 2, Hz: int64(mhz) * 1000 * 1000,
	}
	esx.HostHardwareInfo.MemorySize = memory
}

func (b *builder) datacenter(name string, vio bool, scale Scale) error {
	ctx := b.ctx
	dc, err := object.NewRootFolder(b.client).CreateDatacenter(ctx, name)
	if err != nil {
		return err
	}
	b.counts["datacenters"]++
	folders, err := dc.Folders(ctx)
	if err != nil {
		return err
	}

	dvs, err := b.createSwitch(folders.NetworkFolder, vioSwitch)
	if err != nil {
		return err
	}
	portgroups := vioPortgroups
	for i := 0; i < scale.Portgroups; i++ {
		portgroups = append(portgroups, portgroupShape{fmt.Sprintf("Tenant-%04d", i+1), int32(1000 + i%3000), 32})
	}
	if err := b.createPortgroups(dvs, portgroups); err != nil {
		return err
	}

	var shapes []clusterShape
	if vio {
		shapes = append(shapes, vioClusters...)
	}
	for i := 0; i < scale.Clusters; i++ {
		prefix := fmt.Sprintf("scale%02d", i+1)
		shapes = append(shapes, clusterShape{fmt.Sprintf("Scale-%02d", i+1), prefix, scale.HostsPerCluster, true})
	}

	var allHosts, computeHosts []*object.HostSystem
	var pools []*object.ResourcePool
	for _, shape := range shapes {
		hosts, pool, err := b.createCluster(folders.HostFolder, dvs, shape, name)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", shape.name, err)
		}
		allHosts = append(allHosts, hosts...)
		if shape.compute {
			computeHosts = append(computeHosts, hosts...)
		}
		pools = append(pools, pool)
	}

	// "VM Network" is on every host's vSwitch0; the simulator leaves its host list empty.
	setNetworkHosts(folders.NetworkFolder.Reference(), "VM Network", allHosts)

	// Shared NFS datastores: one mounted everywhere, one for the compute clusters only;
	// and a local VMFS-like datastore on every host.
	type sharedShape struct {
		name               string
		hosts              []*object.HostSystem
		capacityTB, freeTB float64
	}
	shared := []sharedShape{{"vio-shared-nfs", allHosts, 8, 6}, {"vio-compute-nfs", computeHosts, 16, 12}}
	for i := 0; i < scale.Datastores; i++ {
		shared = append(shared, sharedShape{fmt.Sprintf("scale-nfs-%03d", i+1), allHosts, 4, 3})
	}
	for _, ds := range shared {
		if len(ds.hosts) == 0 {
			continue
		}
		ref, err := b.createNasDatastore(name, ds.name, ds.hosts)
		if err != nil {
			return fmt.Errorf("datastore %s: %w", ds.name, err)
		}
		setSize(ref, ds.capacityTB, ds.freeTB)
	}
	for _, host := range allHosts {
		hostName, err := host.ObjectName(ctx)
		if err != nil {
			return err
		}
		if err := b.createLocalDatastore(name, host, "local-"+hostName); err != nil {
			return fmt.Errorf("local datastore on %s: %w", hostName, err)
		}
	}

	// Each host's mount added the shared datastore to the folder again; vCenter lists it once.
	dedupeChildren(folders.DatastoreFolder.Reference())

	if vio {
		if err := b.createTemplate(folders.VmFolder, pools[0], "ubuntu-16.04-vio-template"); err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	return b.createVMs(folders.VmFolder, pools, allHosts, name, scale.VMs)
}

func (b *builder) createSwitch(networkFolder *object.Folder, name string) (*object.DistributedVirtualSwitch, error) {
	spec := types.DVSCreateSpec{
		ConfigSpec: &types.VMwareDVSConfigSpec{
			DVSConfigSpec: types.DVSConfigSpec{Name: name},
			MaxMtu:        9000,
		},
		ProductInfo: &types.DistributedVirtualSwitchProductSpec{Name: "DVS", Vendor: "VMware, Inc.", Version: "6.5.0"},
	}
	task, err := networkFolder.CreateDVS(b.ctx, spec)
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(b.ctx, nil)
	if err != nil {
		return nil, err
	}
	b.counts["switches"]++
	ref := info.Result.(types.ManagedObjectReference)
	// The simulator ignores maxMtu in the create spec; VIO's data network wants jumbo frames.
	dvs := simulator.Map.Get(ref).(*simulator.DistributedVirtualSwitch)
	// Nor does it mark the uplink port group it creates, as vCenter does.
	simulator.Map.WithLock(dvs, func() {
		config := dvs.Config.(*types.VMwareDVSConfigInfo)
		config.MaxMtu = 9000
		if len(dvs.Portgroup) > 0 {
			config.UplinkPortgroup = dvs.Portgroup[:1]
			uplink := simulator.Map.Get(dvs.Portgroup[0]).(*simulator.DistributedVirtualPortgroup)
			uplink.Config.Uplink = types.NewBool(true)
		}
	})
	return object.NewDistributedVirtualSwitch(b.client, ref), nil
}

func (b *builder) createPortgroups(dvs *object.DistributedVirtualSwitch, shapes []portgroupShape) error {
	specs := make([]types.DVPortgroupConfigSpec, 0, len(shapes))
	for _, pg := range shapes {
		var vlan types.BaseVmwareDistributedVirtualSwitchVlanSpec = &types.VmwareDistributedVirtualSwitchVlanIdSpec{VlanId: pg.vlan}
		if pg.vlan < 0 {
			vlan = &types.VmwareDistributedVirtualSwitchTrunkVlanSpec{VlanId: []types.NumericRange{{Start: 0, End: 4094}}}
		}
		specs = append(specs, types.DVPortgroupConfigSpec{
			Name:              pg.name,
			Type:              string(types.DistributedVirtualPortgroupPortgroupTypeEarlyBinding),
			NumPorts:          pg.ports,
			DefaultPortConfig: &types.VMwareDVSPortSetting{Vlan: vlan},
		})
	}
	task, err := dvs.AddPortgroup(b.ctx, specs)
	if err != nil {
		return err
	}
	b.counts["portgroups"] += len(specs)
	return task.Wait(b.ctx)
}

func (b *builder) createCluster(hostFolder *object.Folder, dvs *object.DistributedVirtualSwitch, shape clusterShape, dcName string) ([]*object.HostSystem, *object.ResourcePool, error) {
	ctx := b.ctx
	cluster, err := hostFolder.CreateCluster(ctx, shape.name, types.ClusterConfigSpecEx{})
	if err != nil {
		return nil, nil, err
	}
	b.counts["clusters"]++
	enableHA(cluster.Reference())

	suffix := ".vio.local"
	if dcName != vioDatacenter {
		suffix = "." + dcName + ".vio.local"
	}
	var hosts []*object.HostSystem
	members := &types.DVSConfigSpec{}
	for i := 0; i < shape.hosts; i++ {
		spec := types.HostConnectSpec{HostName: fmt.Sprintf("esx-%s-%02d%s", shape.prefix, i+1, suffix)}
		task, err := cluster.AddHost(ctx, spec, true, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		info, err := task.WaitForResult(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		host := object.NewHostSystem(b.client, info.Result.(types.ManagedObjectReference))
		hosts = append(hosts, host)
		members.Host = append(members.Host, types.DistributedVirtualSwitchHostMemberConfigSpec{
			Operation: string(types.ConfigSpecOperationAdd),
			Host:      host.Reference(),
		})
	}
	b.counts["hosts"] += len(hosts)
	fixClusterSummary(cluster.Reference())
	if len(hosts) > 0 {
		task, err := dvs.Reconfigure(ctx, members)
		if err != nil {
			return nil, nil, err
		}
		if err := task.Wait(ctx); err != nil {
			return nil, nil, err
		}
	}
	pool, err := cluster.ResourcePool(ctx)
	return hosts, pool, err
}

// enableHA turns vSphere HA on: the simulator accepts but ignores dasConfig in a reconfigure.
func enableHA(ref types.ManagedObjectReference) {
	cluster := simulator.Map.Get(ref).(*simulator.ClusterComputeResource)
	simulator.Map.WithLock(cluster, func() {
		config := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)
		config.DasConfig.Enabled = types.NewBool(true)
		config.DasConfig.HostMonitoring = string(types.ClusterDasConfigInfoServiceStateEnabled)
	})
}

// fixClusterSummary recomputes capacity the way vCenter reports it: total CPU in MHz across all
// cores (the simulator adds one core's MHz per host) and effective memory in MB, not bytes.
func fixClusterSummary(ref types.ManagedObjectReference) {
	cluster := simulator.Map.Get(ref).(*simulator.ClusterComputeResource)
	simulator.Map.WithLock(cluster, func() {
		summary := cluster.Summary.GetComputeResourceSummary()
		var cpu int32
		var memory int64
		for _, h := range cluster.Host {
			host := simulator.Map.Get(h).(*simulator.HostSystem)
			hw := host.Summary.Hardware
			cpu += hw.CpuMhz * int32(hw.NumCpuCores)
			memory += hw.MemorySize
		}
		summary.TotalCpu, summary.EffectiveCpu = cpu, cpu
		summary.TotalMemory, summary.EffectiveMemory = memory, memory>>20
		summary.NumEffectiveHosts = int32(len(cluster.Host))
		summary.NumHosts = int32(len(cluster.Host))
	})
}

func setNetworkHosts(networkFolder types.ManagedObjectReference, name string, hosts []*object.HostSystem) {
	folder := simulator.Map.Get(networkFolder).(*simulator.Folder)
	network, ok := simulator.Map.FindByName(name, folder.ChildEntity).(*mo.Network)
	if !ok {
		return
	}
	refs := make([]types.ManagedObjectReference, 0, len(hosts))
	for _, host := range hosts {
		refs = append(refs, host.Reference())
	}
	simulator.Map.WithLock(network, func() { network.Host = refs })
}

func dedupeChildren(ref types.ManagedObjectReference) {
	folder := simulator.Map.Get(ref).(*simulator.Folder)
	simulator.Map.WithLock(folder, func() {
		seen := make(map[types.ManagedObjectReference]bool, len(folder.ChildEntity))
		unique := folder.ChildEntity[:0]
		for _, child := range folder.ChildEntity {
			if !seen[child] {
				seen[child] = true
				unique = append(unique, child)
			}
		}
		folder.ChildEntity = unique
	})
}

func (b *builder) datastoreDir(dcName, name string) (string, error) {
	dir := filepath.Join(b.dataDir, dcName, name)
	return dir, os.MkdirAll(dir, 0o700)
}

func (b *builder) createNasDatastore(dcName, name string, hosts []*object.HostSystem) (types.ManagedObjectReference, error) {
	var ref types.ManagedObjectReference
	dir, err := b.datastoreDir(dcName, name)
	if err != nil {
		return ref, err
	}
	for _, host := range hosts {
		dss, err := host.ConfigManager().DatastoreSystem(b.ctx)
		if err != nil {
			return ref, err
		}
		ds, err := dss.CreateNasDatastore(b.ctx, types.HostNasVolumeSpec{
			RemoteHost: "nfs.vio.local", RemotePath: "/export/" + name, LocalPath: dir,
			AccessMode: string(types.HostMountModeReadWrite), Type: string(types.HostFileSystemVolumeFileSystemTypeNFS),
		})
		if err != nil {
			return ref, err
		}
		b.ids.fixHostDatastores(host.Reference())
		ref = ds.Reference()
	}
	b.counts["datastores"]++
	setMounts(ref, hosts)
	return ref, nil
}

// setSize gives a datastore the size of a real array; the simulator reports the size of the
// file system its temporary directory is on.
func setSize(ref types.ManagedObjectReference, capacityTB, freeTB float64) {
	const tb = 1 << 40
	ds := simulator.Map.Get(ref).(*simulator.Datastore)
	simulator.Map.WithLock(ds, func() {
		ds.Summary.Capacity, ds.Summary.FreeSpace = int64(capacityTB*tb), int64(freeTB*tb)
		info := ds.Info.GetDatastoreInfo()
		info.FreeSpace, info.MaxFileSize = ds.Summary.FreeSpace, ds.Summary.FreeSpace
	})
}

func (b *builder) createLocalDatastore(dcName string, host *object.HostSystem, name string) error {
	dir, err := b.datastoreDir(dcName, name)
	if err != nil {
		return err
	}
	dss, err := host.ConfigManager().DatastoreSystem(b.ctx)
	if err != nil {
		return err
	}
	ds, err := dss.CreateLocalDatastore(b.ctx, name, dir)
	if err != nil {
		return err
	}
	b.ids.fixHostDatastores(host.Reference())
	b.counts["datastores"]++
	setSize(ds.Reference(), 1.8, 1.6)
	simulator.Map.WithLock(simulator.Map.Get(ds.Reference()), func() {
		simulator.Map.Get(ds.Reference()).(*simulator.Datastore).Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeVMFS)
	})
	return nil
}

// setMounts lists every mounting host on the datastore, as vCenter does; the simulator keeps only
// the last host that mounted it.
func setMounts(ref types.ManagedObjectReference, hosts []*object.HostSystem) {
	ds := simulator.Map.Get(ref).(*simulator.Datastore)
	mounts := make([]types.DatastoreHostMount, 0, len(hosts))
	for _, host := range hosts {
		mounts = append(mounts, types.DatastoreHostMount{
			Key: host.Reference(),
			MountInfo: types.HostMountInfo{
				AccessMode: string(types.HostMountModeReadWrite),
				Mounted:    types.NewBool(true),
				Accessible: types.NewBool(true),
			},
		})
	}
	simulator.Map.WithLock(ds, func() { ds.Host = mounts })
}

func (b *builder) vmSpec(name string, datastore string) types.VirtualMachineConfigSpec {
	var devices object.VirtualDeviceList
	scsi, _ := devices.CreateSCSIController("pvscsi")
	disk := devices.CreateDisk(scsi.(types.BaseVirtualController), types.ManagedObjectReference{},
		fmt.Sprintf("[%s] %s/disk1.vmdk", datastore, name))
	disk.CapacityInKB = 1024
	devices = append(devices, scsi, disk)
	change, _ := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	return types.VirtualMachineConfigSpec{
		Name:         name,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierUbuntu64Guest),
		NumCPUs:      2,
		MemoryMB:     4096,
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", datastore)},
		DeviceChange: change,
	}
}

func (b *builder) createTemplate(vmFolder *object.Folder, pool *object.ResourcePool, name string) error {
	task, err := vmFolder.CreateVM(b.ctx, b.vmSpec(name, "vio-shared-nfs"), pool, nil)
	if err != nil {
		return err
	}
	info, err := task.WaitForResult(b.ctx, nil)
	if err != nil {
		return err
	}
	b.counts["templates"]++
	return object.NewVirtualMachine(b.client, info.Result.(types.ManagedObjectReference)).MarkAsTemplate(b.ctx)
}

func (b *builder) createVMs(vmFolder *object.Folder, pools []*object.ResourcePool, hosts []*object.HostSystem, dcName string, count int) error {
	if count == 0 || len(pools) == 0 {
		return nil
	}
	folder, err := vmFolder.CreateFolder(b.ctx, "Workloads")
	if err != nil {
		return err
	}
	for i := 0; i < count; i++ {
		name := fmt.Sprintf("%s-vm-%05d", dcName, i+1)
		task, err := folder.CreateVM(b.ctx, b.vmSpec(name, "vio-shared-nfs"), pools[i%len(pools)], nil)
		if err != nil {
			return err
		}
		info, err := task.WaitForResult(b.ctx, nil)
		if err != nil {
			return err
		}
		vm := object.NewVirtualMachine(b.client, info.Result.(types.ManagedObjectReference))
		if i%4 != 3 { // a quarter stays off, as in any real estate
			if _, err := vm.PowerOn(b.ctx); err != nil {
				return err
			}
		}
	}
	b.counts["vms"] += count
	return nil
}
