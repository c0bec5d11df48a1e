package main

import (
	"context"
	"fmt"
	"log"
	"runtime"
	"sync"
	"time"

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
	// DatastoreScope: "datacenter" mounts each extra datastore on every host of the datacenter;
	// "cluster" on the hosts of one cluster, the clusters in turn (as VMFS volumes are: vSphere
	// allows 64 hosts a volume).
	DatastoreScope string
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
	session *simulator.Session // the session the VMs are made in (see createVMs)
	ctx     context.Context
	client  *vim25.Client
	dataDir string
	mu      sync.Mutex // guards counts
	counts  map[string]int
	mark    time.Time // the end of the last phase logged
}

// buildInventory creates the inventory through the simulator's own API, in process (no HTTP),
// so that every object is what a real client would have made.
// Its datastores' files live under dataDir, which the caller removes when the simulator stops.
func buildInventory(ctx context.Context, service *simulator.Service, scale Scale, ids *vcenterIDs, dataDir string, session *simulator.Session) (map[string]int, error) {
	client, err := vim25.NewClient(ctx, service)
	if err != nil {
		return nil, err
	}
	b := &builder{ids: ids, session: session, ctx: ctx, client: client, dataDir: dataDir, counts: map[string]int{}, mark: time.Now()}
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
	b.count("datacenters", 1)
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

	made, err := b.createClusters(folders.HostFolder, dvs, shapes, name, len(shapes)-scale.Clusters)
	if err != nil {
		return err
	}
	var allHosts, computeHosts []*object.HostSystem
	var pools []*object.ResourcePool
	for i, shape := range shapes {
		allHosts = append(allHosts, made[i].hosts...)
		if shape.compute {
			computeHosts = append(computeHosts, made[i].hosts...)
		}
		pools = append(pools, made[i].pool)
	}

	b.phase("hosts (in clusters, on the switch)", len(allHosts))

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
		hosts := allHosts
		if scale.DatastoreScope == "cluster" {
			hosts = made[i%len(made)].hosts
		}
		shared = append(shared, sharedShape{fmt.Sprintf("scale-nfs-%03d", i+1), hosts, 4, 3})
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
	b.phase("datastores", len(shared)+len(allHosts))

	if vio {
		if err := b.createTemplate(folders.VmFolder, pools[0], "ubuntu-16.04-vio-template"); err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	return b.createVMs(folders.VmFolder, pools, name, scale.VMs)
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
	b.count("switches", 1)
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
	b.count("portgroups", len(specs))
	return task.Wait(b.ctx)
}

func (b *builder) count(what string, n int) {
	b.mu.Lock()
	b.counts[what] += n
	b.mu.Unlock()
}

type madeCluster struct {
	hosts []*object.HostSystem
	pool  *object.ResourcePool
}

// createClusters makes the clusters of shapes: the first `ordered` one after the other, so that
// the VIO clusters and their hosts get the same ids on every run; the scale clusters on every
// core (adding a host costs the simulator an XML copy of a whole host, about 2.5 ms; calls on
// different clusters run side by side, as concurrent clients' calls do).
func (b *builder) createClusters(hostFolder *object.Folder, dvs *object.DistributedVirtualSwitch, shapes []clusterShape, dcName string, ordered int) ([]madeCluster, error) {
	made := make([]madeCluster, len(shapes))
	create := func(i int) error {
		hosts, pool, err := b.createCluster(hostFolder, dvs, shapes[i], dcName)
		if err != nil {
			return fmt.Errorf("cluster %s: %w", shapes[i].name, err)
		}
		made[i] = madeCluster{hosts, pool}
		return nil
	}
	for i := 0; i < ordered; i++ {
		if err := create(i); err != nil {
			return nil, err
		}
	}
	return made, inParallel(len(shapes)-ordered, func(i int) error { return create(ordered + i) })
}

func (b *builder) createCluster(hostFolder *object.Folder, dvs *object.DistributedVirtualSwitch, shape clusterShape, dcName string) ([]*object.HostSystem, *object.ResourcePool, error) {
	ctx := b.ctx
	cluster, err := hostFolder.CreateCluster(ctx, shape.name, types.ClusterConfigSpecEx{})
	if err != nil {
		return nil, nil, err
	}
	b.count("clusters", 1)
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
	b.count("hosts", len(hosts))
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
	b.count("templates", 1)
	return object.NewVirtualMachine(b.client, info.Result.(types.ManagedObjectReference)).MarkAsTemplate(b.ctx)
}

// phase logs how long the build took since the last phase, with the heap's size.
func (b *builder) phase(what string, n int) {
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	log.Printf("inventory: %d %s in %.1fs (heap %d MB)", n, what, time.Since(b.mark).Seconds(), mem.HeapAlloc>>20)
	b.mark = time.Now()
}
