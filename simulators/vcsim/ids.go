package main

import (
	"crypto/sha1"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vcenterIDs gives managed objects the ids vCenter gives them. The simulator names objects after
// their Go type ("folder-12", "clustercomputeresource-20") and a datastore after its path; vCenter
// says group-v12 (a VM folder), domain-c20, datastore-31. (A switch's type is translated on the
// wire instead: see switchTypeToClient.) The simulator has no hook to choose an id, so this listener
// renames an object the moment it is registered: Registry.Put calls it right after storing the
// object, before the simulator's code that created it reads the object's reference back. The few
// copies of the old reference taken before Put are fixed here too: the parent's (a folder's
// childEntity), and, for datastores, the mounting host's lists (fixHostDatastores).
type vcenterIDs struct {
	mu      sync.Mutex
	renamed map[types.ManagedObjectReference]types.ManagedObjectReference
	pending map[types.ManagedObjectReference]types.ManagedObjectReference // datastores not yet fixed in host lists
}

func installVcenterIDs() *vcenterIDs {
	ids := &vcenterIDs{renamed: map[types.ManagedObjectReference]types.ManagedObjectReference{},
		pending: map[types.ManagedObjectReference]types.ManagedObjectReference{}}
	simulator.Map.AddHandler(ids)
	return ids
}

func (*vcenterIDs) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VcsimHarness", Value: "vcenter-ids"}
}

func (*vcenterIDs) UpdateObject(mo.Reference, []types.PropertyChange) {}
func (*vcenterIDs) RemoveObject(types.ManagedObjectReference)         {}

func (ids *vcenterIDs) PutObject(obj mo.Reference) {
	old := obj.Reference()
	want, ok := ids.shape(obj, old)
	if !ok || want == old {
		return
	}
	simulator.Map.Remove(old)
	reflect.ValueOf(obj).Elem().FieldByName("Self").Set(reflect.ValueOf(want))
	if ds, ok := obj.(*simulator.Datastore); ok {
		ds.Summary.Url = datastoreURL(old.Value, ds.Summary.Type)
	}
	if e, ok := obj.(mo.Entity); ok && e.Entity().Parent != nil {
		switch parent := simulator.Map.Get(*e.Entity().Parent).(type) {
		case nil:
		case *simulator.Folder: // the common case, without walking the folder by reflection
			for i := len(parent.ChildEntity) - 1; i >= 0; i-- { // the new child is last
				if parent.ChildEntity[i] == old {
					parent.ChildEntity[i] = want
					break
				}
			}
		default:
			replaceRefs(reflect.ValueOf(parent), old, want)
		}
	}
	simulator.Map.Put(obj)
}

var (
	simpleID      = regexp.MustCompile(`^[a-z]+-(\d+)$`)
	vcenterShaped = regexp.MustCompile(`^(group-[a-z]|domain-[cs]|resgroup-v|datastore-|dvs-)\d+$`)
)

// shape is the reference vCenter would give obj; ok is false for objects whose id is fine as it is.
func (ids *vcenterIDs) shape(obj mo.Reference, old types.ManagedObjectReference) (types.ManagedObjectReference, bool) {
	want := old
	switch o := obj.(type) {
	case *simulator.Folder:
		want.Value = folderPrefix(o.ChildType)
	case *simulator.StoragePod:
		want.Value = "group-p"
	case *simulator.ClusterComputeResource:
		want.Value = "domain-c"
	case *mo.ComputeResource:
		want.Value = "domain-s"
	case *simulator.VirtualApp:
		want.Value = "resgroup-v"
	case *simulator.Datastore:
		want.Value = "datastore-"
	default:
		return old, false
	}
	if want.Value == "" {
		return old, false
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if known, ok := ids.renamed[old]; ok { // a shared datastore registered again by its next host
		ids.pending[old] = known
		return known, true
	}
	if m := simpleID.FindStringSubmatch(old.Value); m != nil {
		want.Value += m[1]
	} else if vcenterShaped.MatchString(old.Value) {
		return old, false // already vCenter's (e.g. the root folder group-d1)
	} else {
		want.Value += itoa(nextID())
	}
	if want.Value == old.Value && want.Type == old.Type {
		return old, false
	}
	ids.renamed[old] = want
	if _, ok := obj.(*simulator.Datastore); ok {
		ids.pending[old] = want
	}
	return want, true
}

func folderPrefix(childTypes []string) string {
	for _, kind := range childTypes {
		switch kind {
		case "VirtualMachine":
			return "group-v"
		case "ComputeResource":
			return "group-h"
		case "Network":
			return "group-n"
		case "Datastore":
			return "group-s"
		case "Datacenter":
			return "group-d"
		}
	}
	return ""
}

// fixHostDatastores replaces renamed datastore references in the lists the simulator filled
// before the datastore was registered: the host's, its datastore system's, its compute
// resource's and the new datastore's browser's. Only datastores renamed since the last fix are
// looked for (a host's lists hold hundreds of datastores at scale).
func (ids *vcenterIDs) fixHostDatastores(ref types.ManagedObjectReference) {
	host, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
	if !ok {
		return
	}
	ids.mu.Lock()
	defer ids.mu.Unlock()
	if len(ids.pending) == 0 {
		return
	}
	fix := func(refs []types.ManagedObjectReference) {
		for i, ref := range refs {
			if want, ok := ids.pending[ref]; ok {
				refs[i] = want
			}
		}
	}
	fix(host.Datastore)
	dss, ok := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem)
	if !ok {
		return
	}
	fix(dss.Datastore)
	switch cr := simulator.Map.Get(*host.Parent).(type) {
	case *simulator.ClusterComputeResource:
		fix(cr.Datastore)
	case *mo.ComputeResource:
		fix(cr.Datastore)
	}
	for _, want := range ids.pending {
		if ds, ok := simulator.Map.Get(want).(*simulator.Datastore); ok {
			if browser, ok := simulator.Map.Get(ds.Browser).(*simulator.HostDatastoreBrowser); ok {
				fix(browser.Datastore)
			}
		}
	}
	ids.pending = map[types.ManagedObjectReference]types.ManagedObjectReference{}
}

// datastoreURL is the summary.url vCenter shows: ds:///vmfs/volumes/<uuid>/ for VMFS, and
// ds:///vmfs/volumes/<hex>-<hex>/ for NFS. The uuid is derived from the simulator's id (the path).
func datastoreURL(seed, fsType string) string {
	sum := sha1.Sum([]byte(seed))
	hex := fmt.Sprintf("%x", sum)
	if fsType == string(types.HostFileSystemVolumeFileSystemTypeNFS) || fsType == string(types.HostFileSystemVolumeFileSystemTypeNFS41) {
		return fmt.Sprintf("ds:///vmfs/volumes/%s-%s/", hex[:8], hex[8:16])
	}
	return fmt.Sprintf("ds:///vmfs/volumes/%s-%s-%s-%s/", hex[:8], hex[8:16], hex[16:20], hex[20:32])
}

// nextID draws a number from the simulator's own id counter (through the only public way to it,
// NewEntity), so ids the harness makes never collide with the simulator's.
func nextID() int64 {
	ref := simulator.Map.NewEntity(&mo.Folder{}).Reference()
	m := simpleID.FindStringSubmatch(ref.Value)
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// replaceRefs replaces the reference old by want wherever it appears in v's exported fields.
func replaceRefs(v reflect.Value, old, want types.ManagedObjectReference) {
	switch v.Kind() {
	case reflect.Ptr, reflect.Interface:
		if !v.IsNil() {
			replaceRefs(v.Elem(), old, want)
		}
	case reflect.Struct:
		if v.Type() == refType {
			if v.CanSet() && v.Interface().(types.ManagedObjectReference) == old {
				v.Set(reflect.ValueOf(want))
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				replaceRefs(v.Field(i), old, want)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			replaceRefs(v.Index(i), old, want)
		}
	}
}
