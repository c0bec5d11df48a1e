package main

import (
	"net/http"
	"path"
	"reflect"
	"sort"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// customFields answers the CustomFieldsManager's methods and setCustomValue as vCenter does. The
// definitions stay in the simulator's CustomFieldsManager (its `field`, read by the
// PropertyCollector); what 0.24.2 gets wrong is done here instead:
//   - keys start at 0 there (a falsy key for many clients); here they are positive, never reused;
//   - a definition's `type` is its moType there ("" for a global field, which pyvmomi cannot read
//     as a type name); vCenter says "string";
//   - availableField is set only on the entities that exist when the field is added; vCenter lists
//     the fields valid for an object's type (subtypes included: a ResourcePool field is valid for a
//     vApp) on every object, also those made later;
//   - SetField appends a second value when a key is set again (vCenter keeps one per key), accepts a
//     key whose field is for another type, panics on a missing entity, and changes the entity behind
//     the PropertyCollector's back (no update for a WaitForUpdatesEx filter);
//   - setCustomValue exists only on VirtualMachine (vCenter: every entity);
//   - RenameCustomFieldDef accepts a name already taken.
type customFields struct {
	manager *simulator.CustomFieldsManager
	h       *harness

	mu      sync.Mutex // guards defs and next, never held while an object's lock is taken
	defs    []types.CustomFieldDef
	nextKey int32
}

// firstFieldKey: vCenter's keys are positive integers, unique for the life of a field.
const firstFieldKey = 101

func installCustomFields(h *harness) *customFields {
	cf := &customFields{manager: simulator.Map.CustomFieldsManager(), h: h, nextKey: firstFieldKey}
	simulator.Map.AddHandler(cf)
	h.checks["AddCustomFieldDef"] = cf.add
	h.checks["RemoveCustomFieldDef"] = cf.remove
	h.checks["RenameCustomFieldDef"] = cf.rename
	h.checks["SetField"] = cf.setField
	h.checks["setCustomValue"] = cf.setCustomValue
	return cf
}

func (*customFields) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VcsimHarness", Value: "custom-fields"}
}

// PutObject gives an entity made after a field was defined the fields valid for its type.
func (cf *customFields) PutObject(obj mo.Reference) {
	e, ok := obj.(mo.Entity)
	if !ok {
		return
	}
	cf.mu.Lock()
	defs := cf.defs
	cf.mu.Unlock()
	if len(defs) > 0 {
		e.Entity().AvailableField = applicable(defs, obj)
	}
}

func (*customFields) UpdateObject(mo.Reference, []types.PropertyChange) {}
func (*customFields) RemoveObject(types.ManagedObjectReference)         {}

// applicable lists the definitions valid for obj, sorted by name (nil if none).
func applicable(defs []types.CustomFieldDef, obj mo.Reference) []types.CustomFieldDef {
	var out []types.CustomFieldDef
	for _, def := range defs {
		if appliesTo(def.ManagedObjectType, obj) {
			out = append(out, def)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// appliesTo tells whether a field for moType is valid for obj: no type, obj's own type or one it
// extends (mo types embed their parent type: VirtualApp embeds ResourcePool).
func appliesTo(moType string, obj mo.Reference) bool {
	if moType == "" {
		return true
	}
	if moType == "VmwareDistributedVirtualSwitch" { // the simulator's switches: see switchTypeToClient
		moType = "DistributedVirtualSwitch"
	}
	kind := moTypeOf(obj)
	if kind.Name() == moType {
		return true
	}
	field, ok := kind.FieldByName(moType)
	return ok && field.Anonymous
}

// moTypeOf digs out the mo type a simulator object embeds first, as the PropertyCollector does.
func moTypeOf(obj mo.Reference) reflect.Type {
	kind := reflect.TypeOf(obj).Elem()
	for kind.Kind() == reflect.Struct && path.Base(kind.PkgPath()) != "mo" && kind.NumField() > 0 {
		kind = kind.Field(0).Type
	}
	return kind
}

func (cf *customFields) byKey(key int32) (int, *types.CustomFieldDef) {
	for i := range cf.defs {
		if cf.defs[i].Key == key {
			return i, &cf.defs[i]
		}
	}
	return -1, nil
}

// nameTaken finds a field whose name clashes with name for moType: same name, and either field
// is global or both are for the same type.
func (cf *customFields) nameTaken(name, moType string, except int32) *types.CustomFieldDef {
	for i, def := range cf.defs {
		if def.Name == name && def.Key != except && (def.ManagedObjectType == "" || moType == "" || def.ManagedObjectType == moType) {
			return &cf.defs[i]
		}
	}
	return nil
}

// publish stores the definitions (sorted by name, as vCenter lists them) in the simulator's
// CustomFieldsManager and refreshes availableField on the entities of the types in kinds.
func (cf *customFields) publish(defs []types.CustomFieldDef, kinds ...string) {
	sorted := append([]types.CustomFieldDef(nil), defs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	simulator.Map.WithLock(cf.manager, func() {
		simulator.Map.Update(cf.manager, []types.PropertyChange{{Name: "field", Val: sorted}})
	})
	all := false
	for _, kind := range kinds {
		all = all || kind == ""
	}
	for _, e := range simulator.Map.All("") {
		obj := mo.Reference(e)
		touched := all
		for _, kind := range kinds {
			touched = touched || appliesTo(kind, obj)
		}
		if !touched {
			continue
		}
		available := applicable(defs, obj)
		simulator.Map.WithLock(obj, func() {
			simulator.Map.Update(obj, []types.PropertyChange{{Name: "availableField", Val: available}})
		})
	}
}

func (cf *customFields) answer(w http.ResponseWriter, r *http.Request, call soapCall) (*simulator.Method, bool) {
	if call.this.Type != "CustomFieldsManager" && call.method != "setCustomValue" {
		return nil, false
	}
	method, err := call.decode()
	if err != nil || !cf.h.authenticated(r) {
		return nil, false // the simulator answers: a decoding fault, or NotAuthenticated
	}
	return method, true
}

func (cf *customFields) add(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, ok := cf.answer(w, r, call)
	if !ok {
		return false
	}
	req := method.Body.(*types.AddCustomFieldDef)
	if req.Name == "" {
		writeFault(w, &types.InvalidArgument{InvalidProperty: "name"}, "")
		return true
	}
	policy := func(p *types.PrivilegePolicyDef) *types.PrivilegePolicyDef {
		if p != nil {
			return p
		}
		return &types.PrivilegePolicyDef{CreatePrivilege: "System.Read", ReadPrivilege: "System.Read", UpdatePrivilege: "System.Read", DeletePrivilege: "System.Read"}
	}
	cf.mu.Lock()
	if taken := cf.nameTaken(req.Name, req.MoType, -1); taken != nil {
		cf.mu.Unlock()
		writeFault(w, &types.DuplicateName{Name: req.Name, Object: cf.manager.Self}, "")
		return true
	}
	def := types.CustomFieldDef{
		Key: cf.nextKey, Name: req.Name, Type: "string", ManagedObjectType: req.MoType,
		FieldDefPrivileges: policy(req.FieldDefPolicy), FieldInstancePrivileges: policy(req.FieldPolicy),
	}
	cf.nextKey++
	cf.defs = append(append([]types.CustomFieldDef(nil), cf.defs...), def)
	defs := cf.defs
	cf.mu.Unlock()
	cf.publish(defs, req.MoType)
	writeResponse(w, call.method, &types.AddCustomFieldDefResponse{Returnval: def})
	return true
}

func (cf *customFields) remove(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, ok := cf.answer(w, r, call)
	if !ok {
		return false
	}
	key := method.Body.(*types.RemoveCustomFieldDef).Key
	cf.mu.Lock()
	i, def := cf.byKey(key)
	if def == nil {
		cf.mu.Unlock()
		writeFault(w, &types.NotFound{}, "")
		return true
	}
	removed := *def
	cf.defs = append(append([]types.CustomFieldDef(nil), cf.defs[:i]...), cf.defs[i+1:]...)
	defs := cf.defs
	cf.mu.Unlock()
	cf.publish(defs, removed.ManagedObjectType)
	// Its values go with it, on every entity that had one.
	for _, e := range simulator.Map.All("") {
		obj := mo.Reference(e)
		if valueIndex(e.Entity().CustomValue, key) < 0 {
			continue
		}
		simulator.Map.WithLock(obj, func() {
			values := withoutValue(e.Entity().CustomValue, key)
			simulator.Map.Update(obj, []types.PropertyChange{{Name: "customValue", Val: values}, {Name: "value", Val: values}})
		})
	}
	writeResponse(w, call.method, &types.RemoveCustomFieldDefResponse{})
	return true
}

func (cf *customFields) rename(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, ok := cf.answer(w, r, call)
	if !ok {
		return false
	}
	req := method.Body.(*types.RenameCustomFieldDef)
	cf.mu.Lock()
	_, def := cf.byKey(req.Key)
	var fault types.BaseMethodFault
	switch {
	case def == nil:
		fault = &types.NotFound{}
	case req.Name == "":
		fault = &types.InvalidArgument{InvalidProperty: "name"}
	case cf.nameTaken(req.Name, def.ManagedObjectType, req.Key) != nil:
		fault = &types.DuplicateName{Name: req.Name, Object: cf.manager.Self}
	}
	if fault != nil {
		cf.mu.Unlock()
		writeFault(w, fault, "")
		return true
	}
	defs := append([]types.CustomFieldDef(nil), cf.defs...)
	i, _ := cf.byKey(req.Key)
	defs[i].Name = req.Name
	moType := defs[i].ManagedObjectType
	cf.defs = defs
	cf.mu.Unlock()
	cf.publish(defs, moType)
	writeResponse(w, call.method, &types.RenameCustomFieldDefResponse{})
	return true
}

// setField assigns one value per key on an entity whose type the field is valid for.
func (cf *customFields) setField(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, ok := cf.answer(w, r, call)
	if !ok {
		return false
	}
	req := method.Body.(*types.SetField)
	cf.mu.Lock()
	_, def := cf.byKey(req.Key)
	cf.mu.Unlock()
	if fault := cf.assign(req.Entity, def, req.Value); fault != nil {
		writeFault(w, fault, "")
		return true
	}
	writeResponse(w, call.method, &types.SetFieldResponse{})
	return true
}

// setCustomValue is ExtensibleManagedObject.setCustomValue(key=field name, value), on any entity.
func (cf *customFields) setCustomValue(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, ok := cf.answer(w, r, call)
	if !ok {
		return false
	}
	req := method.Body.(*types.SetCustomValue)
	obj := simulator.Map.Get(req.This)
	var def *types.CustomFieldDef
	if obj != nil {
		cf.mu.Lock()
		for i := range cf.defs {
			if cf.defs[i].Name == req.Key && appliesTo(cf.defs[i].ManagedObjectType, obj) {
				found := cf.defs[i]
				def = &found
				break
			}
		}
		cf.mu.Unlock()
	}
	if fault := cf.assign(req.This, def, req.Value); fault != nil {
		writeFault(w, fault, "")
		return true
	}
	writeResponse(w, call.method, &types.SetCustomValueResponse{})
	return true
}

func (cf *customFields) assign(ref types.ManagedObjectReference, def *types.CustomFieldDef, value string) types.BaseMethodFault {
	obj := simulator.Map.Get(ref)
	e, ok := obj.(mo.Entity)
	switch {
	case obj == nil:
		return &types.ManagedObjectNotFound{Obj: ref}
	case !ok:
		return &types.InvalidArgument{InvalidProperty: "entity"}
	case def == nil || !appliesTo(def.ManagedObjectType, obj):
		return &types.InvalidArgument{InvalidProperty: "key"}
	}
	simulator.Map.WithLock(obj, func() {
		values := withoutValue(e.Entity().CustomValue, def.Key)
		values = append(values, &types.CustomFieldStringValue{CustomFieldValue: types.CustomFieldValue{Key: def.Key}, Value: value})
		sort.SliceStable(values, func(i, j int) bool { return values[i].GetCustomFieldValue().Key < values[j].GetCustomFieldValue().Key })
		simulator.Map.Update(obj, []types.PropertyChange{{Name: "customValue", Val: values}, {Name: "value", Val: values}})
	})
	return nil
}

func valueIndex(values []types.BaseCustomFieldValue, key int32) int {
	for i, v := range values {
		if v.GetCustomFieldValue().Key == key {
			return i
		}
	}
	return -1
}

// withoutValue copies values without the one for key (nil when none is left).
func withoutValue(values []types.BaseCustomFieldValue, key int32) []types.BaseCustomFieldValue {
	var out []types.BaseCustomFieldValue
	for _, v := range values {
		if v.GetCustomFieldValue().Key != key {
			out = append(out, v)
		}
	}
	return out
}
