package main

import (
	"net/http"
	"path"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vmOps are the VM methods the harness answers as vCenter does where the simulator does not.
type vmOps struct {
	invoker *invoker
	h       *harness
}

func (o *vmOps) register(h *harness) {
	o.h = h
	h.overrides["CloneVM_Task"] = o.cloneVM
	h.overrides["CreateVM_Task"] = o.createVM
	h.overrides["RegisterVM_Task"] = o.registerVM
	h.overrides["ReconfigVM_Task"] = o.reconfigVM
	h.checks["ImportVApp"] = o.importVApp
	h.checks["Fetch"] = fetchUnset
	h.checks["CreateFolder"] = o.createFolder
}

// createFolder refuses a name taken in the folder with DuplicateName naming the object that has
// it, as vCenter does (the simulator names the parent folder).
func (o *vmOps) createFolder(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, err := call.decode()
	if err != nil {
		return false
	}
	parent, ok := simulator.Map.Get(method.This).(*simulator.Folder)
	if !ok {
		return false
	}
	name := method.Body.(*types.CreateFolder).Name
	for _, ref := range parent.ChildEntity {
		if e, ok := simulator.Map.Get(ref).(mo.Entity); ok && e.Entity().Name == name && o.h.authenticated(r) {
			writeFault(w, &types.DuplicateName{Name: name, Object: ref}, "")
			return true
		}
	}
	return false
}

// createVM refuses a name already used by a VM in the folder (DuplicateName), as vCenter does.
func (o *vmOps) createVM(method *simulator.Method) (types.AnyType, types.BaseMethodFault) {
	req := method.Body.(*types.CreateVM_Task)
	if fault := duplicateIn(req.This, req.Config.Name); fault != nil {
		return nil, fault
	}
	return outcome(o.invoker.call(method))
}

// registerVM refuses a name already used in the folder; without a name, the VM is named after
// its directory (the simulator's rule, and vCenter's).
func (o *vmOps) registerVM(method *simulator.Method) (types.AnyType, types.BaseMethodFault) {
	req := method.Body.(*types.RegisterVM_Task)
	name := req.Name
	if name == "" {
		var p object.DatastorePath
		if p.FromString(req.Path) {
			name = path.Dir(p.Path)
		}
	}
	if fault := duplicateIn(req.This, name); fault != nil {
		return nil, fault
	}
	return outcome(o.invoker.call(method))
}

// reconfigVM keeps one value per extraConfig key, the last one given, and drops a key set to ""
// (vCenter's rule); the simulator appends every option again.
func (o *vmOps) reconfigVM(method *simulator.Method) (types.AnyType, types.BaseMethodFault) {
	result, fault := outcome(o.invoker.call(method))
	if vm, ok := simulator.Map.Get(method.This).(*simulator.VirtualMachine); ok && fault == nil {
		simulator.Map.WithLock(vm, func() {
			simulator.Map.Update(vm, []types.PropertyChange{{Name: "config.extraConfig", Val: mergeOptions(vm.Config.ExtraConfig)}})
		})
	}
	return result, fault
}

// importVApp refuses, before the simulator makes the VM, a name already used in the folder.
func (o *vmOps) importVApp(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, err := call.decode()
	if err != nil {
		return false
	}
	req := method.Body.(*types.ImportVApp)
	spec, ok := req.Spec.(*types.VirtualMachineImportSpec)
	if !ok {
		return false
	}
	folder := req.Folder
	if folder == nil {
		if pool, ok := simulator.Map.Get(req.This).(mo.Entity); ok {
			if dc := datacenterOf(pool); dc != nil {
				folder = &dc.VmFolder
			}
		}
	}
	if folder == nil {
		return false
	}
	fault := duplicateIn(*folder, spec.ConfigSpec.Name)
	if fault == nil || !o.h.authenticated(r) {
		return false
	}
	writeFault(w, fault, "")
	return true
}

func duplicateIn(folder types.ManagedObjectReference, name string) types.BaseMethodFault {
	f, ok := simulator.Map.Get(folder).(*simulator.Folder)
	if !ok || name == "" {
		return nil
	}
	if dup := vmNamed(f.ChildEntity, name); dup != nil {
		return &types.DuplicateName{Name: name, Object: *dup}
	}
	return nil
}

// vmNamed finds a VM or vApp called name among refs (names are unique per folder in vCenter).
func vmNamed(refs []types.ManagedObjectReference, name string) *types.ManagedObjectReference {
	for _, ref := range refs {
		if ref.Type != "VirtualMachine" && ref.Type != "VirtualApp" {
			continue
		}
		if e, ok := simulator.Map.Get(ref).(mo.Entity); ok && e.Entity().Name == name {
			found := ref
			return &found
		}
	}
	return nil
}

func datacenterOf(e mo.Entity) *simulator.Datacenter {
	for e != nil && e.Entity().Parent != nil {
		parent, ok := simulator.Map.Get(*e.Entity().Parent).(mo.Entity)
		if !ok {
			return nil
		}
		if dc, ok := parent.(*simulator.Datacenter); ok {
			return dc
		}
		e = parent
	}
	return nil
}

// fetchUnset answers pyvmomi's Fetch (attribute access) of an unset property with no value, as
// vCenter does; the simulator's Fetch indexes an empty result there and panics.
func fetchUnset(w http.ResponseWriter, _ *http.Request, call soapCall) bool {
	method, err := call.decode()
	if err != nil {
		return false
	}
	body := reflect.ValueOf(method.Body).Elem()
	prop, _ := body.FieldByName("Prop").Interface().(string)
	obj := simulator.Map.Get(method.This)
	// The SessionManager's properties depend on the caller's session: the simulator answers those.
	if obj == nil || method.This.Type == "SessionManager" || prop == "" || strings.Contains(prop, ".") {
		return false
	}
	v := reflect.ValueOf(obj).Elem()
	for v.Kind() == reflect.Struct && path.Base(v.Type().PkgPath()) != "mo" && v.NumField() > 0 {
		v = v.Field(0) // the mo type a simulator type embeds first, as the PropertyCollector digs
	}
	field := v.FieldByName(strings.ToUpper(prop[:1]) + prop[1:])
	if !field.IsValid() {
		return false
	}
	switch field.Kind() {
	case reflect.Ptr, reflect.Interface, reflect.Slice:
		if !field.IsNil() {
			return false
		}
	case reflect.String:
		if field.Len() != 0 {
			return false
		}
	default:
		return false
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write([]byte(envelopeHead + `<FetchResponse xmlns="urn:vim25"></FetchResponse>` + envelopeTail))
	return true
}

// mergeOptions keeps the last value given for each key, in first-seen order, without the keys
// in drop and without keys whose last value is "" (vCenter removes those).
func mergeOptions(options []types.BaseOptionValue, drop ...string) []types.BaseOptionValue {
	last := map[string]types.BaseOptionValue{}
	var order []string
	for _, option := range options {
		key := option.GetOptionValue().Key
		if _, seen := last[key]; !seen {
			order = append(order, key)
		}
		last[key] = option
	}
	var merged []types.BaseOptionValue
	for _, key := range order {
		value := last[key].GetOptionValue().Value
		if s, ok := value.(string); (ok && s == "") || value == nil || containsString(drop, key) {
			continue
		}
		merged = append(merged, last[key])
	}
	return merged
}

func containsString(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// deepCopy copies v and everything its exported fields point to.
func deepCopy(v interface{}) interface{} {
	if v == nil {
		return nil
	}
	return copyValue(reflect.ValueOf(v)).Interface()
}

func copyValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Ptr:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(copyValue(v.Elem()))
		return c
	case reflect.Interface:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(copyValue(v.Elem()))
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				c.Field(i).Set(copyValue(v.Field(i)))
			}
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return reflect.Zero(v.Type())
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(copyValue(v.Index(i)))
		}
		return c
	}
	return v
}
