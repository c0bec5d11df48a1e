package main

import (
	"io/fs"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// silentChanges are the methods whose simulator code changes their object without telling the
// registry, so that no WaitForUpdatesEx ever reported the change (a watcher's picture kept a host
// out of maintenance mode, a deleted DRS rule): after such a call succeeds, the harness reports
// the properties it changed, with their values, as vCenter does.
var silentChanges = map[string][]string{
	"EnterMaintenanceMode_Task":       {"runtime.inMaintenanceMode", "summary.runtime.inMaintenanceMode"},
	"ExitMaintenanceMode_Task":        {"runtime.inMaintenanceMode", "summary.runtime.inMaintenanceMode"},
	"ReconfigureComputeResource_Task": {"configurationEx"},
	// govmomi sets a reconfigured VM's name, tags and size in place: a rename by ReconfigVM never reached a watcher
	"ReconfigVM_Task": {"name", "config.name", "summary.config.name", "config.extraConfig", "config.hardware.numCPU",
		"config.hardware.memoryMB", "summary.config.numCpu", "summary.config.memorySizeMB"},
}

// reportingChanges wraps a task's work so that its silent changes are reported once it succeeded.
func reportingChanges(method string, this types.ManagedObjectReference, real work) work {
	paths := silentChanges[method]
	if len(paths) == 0 {
		return real
	}
	return func() (types.AnyType, types.BaseMethodFault) {
		result, fault := real()
		if fault == nil {
			reportChanges(this, paths)
		}
		return result, fault
	}
}

// reportChanges tells the registry's listeners (the property collectors) that these properties of
// ref changed, with their current values.
func reportChanges(ref types.ManagedObjectReference, paths []string) {
	obj := simulator.Map.Get(ref)
	if obj == nil {
		return
	}
	simulator.Map.WithLock(obj, func() {
		changes := make([]types.PropertyChange, 0, len(paths))
		for _, path := range paths {
			changes = append(changes, types.PropertyChange{Name: path, Val: valueAt(obj, path)})
		}
		simulator.Map.Update(obj, changes)
	})
}

// valueAt reads the value at a property path of obj (nil when a step of it is unset).
func valueAt(obj mo.Reference, path string) interface{} {
	v := moValue(obj)
	for _, name := range strings.Split(path, ".") {
		for v.Kind() == reflect.Ptr || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return nil
		}
		if v = v.FieldByName(strings.ToUpper(name[:1]) + name[1:]); !v.IsValid() {
			return nil
		}
	}
	if (v.Kind() == reflect.Ptr || v.Kind() == reflect.Interface || v.Kind() == reflect.Slice) && v.IsNil() {
		return nil
	}
	return v.Interface()
}

// refreshDatastore answers RefreshDatastore as vCenter does: the datastore's free space is read
// again, and a change is reported. The simulator's own refresh replaced the datastore's size by
// that of the file system its directory is on (the harness gives datastores an array's size), and
// told no one. Here the capacity stays; the free space is the capacity less the bytes of the
// files in the datastore (so a file uploaded through /folder, then a refresh, lowers it).
func (h *harness) refreshDatastore(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	ds, ok := simulator.Map.Get(call.this).(*simulator.Datastore)
	if !ok || !h.authenticated(r) {
		return false
	}
	info := ds.Info.GetDatastoreInfo()
	var used int64
	_ = filepath.WalkDir(info.Url, func(_ string, entry fs.DirEntry, err error) error {
		if err == nil && !entry.IsDir() {
			if fi, err := entry.Info(); err == nil {
				used += fi.Size()
			}
		}
		return nil
	})
	simulator.Map.WithLock(ds, func() {
		free := ds.Summary.Capacity - used
		if free < 0 {
			free = 0
		}
		now := time.Now()
		info.FreeSpace, info.MaxFileSize, info.MaxMemoryFileSize, info.Timestamp = free, free, free, &now
		simulator.Map.Update(ds, []types.PropertyChange{
			{Name: "summary.freeSpace", Val: free},
			{Name: "info.freeSpace", Val: free},
			{Name: "info.timestamp", Val: now},
		})
	})
	writeResponse(w, call.method, &types.RefreshDatastoreResponse{})
	return true
}
