package main

import (
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func (b *builder) datastoreDir(dcName, name string) (string, error) {
	dir := filepath.Join(b.dataDir, dcName, name)
	return dir, os.MkdirAll(dir, 0o700)
}

// createNasDatastore mounts an NFS export on hosts: the first mount through the simulator's own
// CreateNasDatastore, which makes the datastore; the others as that call does for a datastore
// already known (it is listed by the host, its datastore system and its cluster), without the
// simulator's per-mount work: a new Datastore object, a datastore browser and a folder entry for
// every host, which made 200 datastores on 2,500 hosts quadratic (see simulators/README.md).
func (b *builder) createNasDatastore(dcName, name string, hosts []*object.HostSystem) (types.ManagedObjectReference, error) {
	var ref types.ManagedObjectReference
	dir, err := b.datastoreDir(dcName, name)
	if err != nil {
		return ref, err
	}
	dss, err := hosts[0].ConfigManager().DatastoreSystem(b.ctx)
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
	b.ids.fixHostDatastores(hosts[0].Reference())
	ref = ds.Reference()
	for _, host := range hosts[1:] {
		mountDatastore(ref, host.Reference())
	}
	b.count("datastores", 1)
	setMounts(ref, hosts)
	return ref, nil
}

// mountDatastore lists a datastore on one more host, its datastore system and its cluster.
func mountDatastore(ds, ref types.ManagedObjectReference) {
	host := simulator.Map.Get(ref).(*simulator.HostSystem)
	dss := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem)
	simulator.Map.WithLock(host, func() {
		dss.Datastore = append(dss.Datastore, ds)
		host.Datastore = dss.Datastore // the simulator keeps the two the same
	})
	switch cr := simulator.Map.Get(*host.Parent).(type) {
	case *simulator.ClusterComputeResource:
		simulator.Map.AddReference(cr, &cr.Datastore, ds)
	case *mo.ComputeResource:
		simulator.Map.AddReference(cr, &cr.Datastore, ds)
	}
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
	b.count("datastores", 1)
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
