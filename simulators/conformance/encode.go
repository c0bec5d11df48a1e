package main

import (
	"reflect"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// The JSON this client prints mirrors the SOAP wire rather than govmomi's Go structs, so that the
// tests read the names of vSphere's API reference (numCPU, memoryMB, dasConfig.enabled) as pyvmomi
// does:
//   - a field is named by its vim25 xml tag and left out when the tag says omitempty and it is
//     unset, as vCenter leaves it out;
//   - a struct reached through an interface (a property value, a device, a fault) carries its
//     vim25 type in "_type", as xsi:type does on the wire;
//   - a managed object reference is the string "Type:value", the form the commands accept;
//   - an ArrayOfX wrapper is the plain list it wraps.

var (
	morefType = reflect.TypeOf(types.ManagedObjectReference{})
	timeType  = reflect.TypeOf(time.Time{})
)

func morefString(ref types.ManagedObjectReference) string {
	return ref.Type + ":" + ref.Value
}

// wire converts a vim25 value into plain maps, lists and scalars for encoding/json.
func wire(v interface{}) interface{} {
	return wireValue(reflect.ValueOf(v), true)
}

func wireValue(v reflect.Value, typed bool) interface{} {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return wireValue(v.Elem(), true)
	case reflect.Ptr:
		if v.IsNil() {
			return nil
		}
		return wireValue(v.Elem(), typed)
	case reflect.Slice, reflect.Array:
		list := make([]interface{}, v.Len())
		for i := range list {
			list[i] = wireValue(v.Index(i), false)
		}
		return list
	case reflect.Struct:
		return wireStruct(v, typed)
	case reflect.String:
		return v.String() // enums are string types
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return v.Interface()
}

func wireStruct(v reflect.Value, typed bool) interface{} {
	t := v.Type()
	switch {
	case t == morefType:
		return morefString(v.Interface().(types.ManagedObjectReference))
	case t == timeType:
		return v.Interface().(time.Time).UTC().Format(time.RFC3339Nano)
	case strings.HasPrefix(t.Name(), "ArrayOf") && t.NumField() == 1:
		return wireValue(v.Field(0), false)
	}
	out := map[string]interface{}{}
	if typed {
		out["_type"] = t.Name()
	}
	addFields(v, out)
	return out
}

// addFields copies v's fields into out by their xml names; embedded structs (a vim25 type's base
// type, e.g. DynamicData) give their fields to the outer object.
func addFields(v reflect.Value, out map[string]interface{}) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		field, value := t.Field(i), v.Field(i)
		if field.PkgPath != "" {
			continue // unexported
		}
		if field.Anonymous && field.Type.Kind() == reflect.Struct {
			addFields(value, out)
			continue
		}
		name, omitEmpty := xmlName(field)
		if name == "" || (omitEmpty && unset(value)) || nilRef(value) {
			continue
		}
		out[name] = wireValue(value, false)
	}
}

// xmlName is the element name of a field's xml tag ("" to skip the field) and whether it is
// optional.
func xmlName(field reflect.StructField) (string, bool) {
	tag, ok := field.Tag.Lookup("xml")
	if !ok {
		return field.Name, false
	}
	parts := strings.Split(tag, ",")
	if parts[0] == "-" || field.Name == "XMLName" {
		return "", false
	}
	name := parts[0]
	if name == "" {
		name = field.Name
	}
	omitEmpty := false
	for _, option := range parts[1:] {
		omitEmpty = omitEmpty || option == "omitempty"
	}
	return name, omitEmpty
}

// nilRef is a nil pointer or interface, which encoding/xml never writes, omitempty or not.
func nilRef(v reflect.Value) bool {
	return (v.Kind() == reflect.Ptr || v.Kind() == reflect.Interface) && v.IsNil()
}

// unset is encoding/xml's omitempty rule: zero scalars, nil pointers and interfaces, empty lists.
func unset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Ptr, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	}
	return false
}

// typeName is a vim25 value's type without the pointer, e.g. "DuplicateName", "VmClonedEvent".
func typeName(v interface{}) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return t.Name()
}
