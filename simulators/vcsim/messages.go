package main

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// localizedMessage is the text vCenter gives with a fault (LocalizedMethodFault.localizedMessage,
// and a SOAP fault's faultstring). A message set on the fault (an injected message=) wins; the
// simulator's own "%T" (a Go type name) never shows.
func localizedMessage(fault types.BaseMethodFault) string {
	if msgs := fault.GetMethodFault().FaultMessage; len(msgs) > 0 && msgs[0].Message != "" {
		return msgs[0].Message
	}
	switch f := fault.(type) {
	case *types.InvalidPowerState:
		return fmt.Sprintf("The attempted operation cannot be performed in the current state (%s).", powerStateText(f.ExistingState))
	case *types.DuplicateName:
		return fmt.Sprintf("The name '%s' already exists.", f.Name)
	case *types.InvalidArgument:
		if f.InvalidProperty == "" {
			return "A specified parameter was not correct."
		}
		return "A specified parameter was not correct: " + f.InvalidProperty
	case *types.InvalidDatastore:
		return fmt.Sprintf("The datastore '%s' is not accessible from the host the virtual machine runs on.", f.Name)
	case *types.DatastoreNotWritableOnHost:
		return fmt.Sprintf("The datastore '%s' is not accessible from host '%s'.", f.Name, objectName(f.Host))
	case *types.ManagedObjectNotFound:
		return fmt.Sprintf("The object '%s:%s' has already been deleted or has not been completely created", typeLabel(f.Obj.Type), f.Obj.Value)
	case *types.NotAuthenticated:
		return "The session is not authenticated."
	case *types.InvalidLogin:
		return "Cannot complete login due to an incorrect user name or password."
	case *types.InvalidState:
		return "The operation is not allowed in the current state."
	case *types.NotSupported:
		return "The operation is not supported on the object."
	case *types.NicSettingMismatch:
		return fmt.Sprintf("The number of network adapter settings in the customization specification: %d does not match the number of network adapters present in the virtual machine: %d.",
			f.NumberOfNicsInSpec, f.NumberOfNicsInVM)
	case *types.CustomizationPending:
		return "The virtual machine has a customization pending; power it on before customizing it again."
	case *types.InvalidDeviceOperation:
		return fmt.Sprintf("Invalid operation for device '%d'.", f.DeviceIndex)
	case *types.InvalidDeviceSpec:
		return fmt.Sprintf("Invalid configuration for device '%d'.", f.DeviceIndex)
	case *types.FileAlreadyExists:
		return fmt.Sprintf("Cannot complete the operation because the file or folder %s already exists", f.File)
	case *types.FileNotFound:
		return fmt.Sprintf("File %s was not found", f.File)
	case *types.AlreadyExists:
		return fmt.Sprintf("The specified key, name, or identifier '%s' already exists.", f.Name)
	case *types.NotFound:
		return "The object or item referred to could not be found."
	case *types.InsufficientFailoverResourcesFault:
		return "Insufficient resources to satisfy configured failover level for vSphere HA."
	case *types.InsufficientResourcesFault:
		return "Insufficient resources to satisfy the operation: the cluster or resource pool cannot admit the virtual machine."
	case *types.NoCompatibleHost:
		return "No host is compatible with the virtual machine."
	case *types.ResourceInUse:
		return "The resource is in use."
	case *types.RequestCanceled:
		return "The task was canceled by a user."
	case *types.Timedout:
		return "Operation timed out."
	case *types.MethodNotFound:
		return fmt.Sprintf("The method %s is not supported by %s.", f.Method, f.Receiver.Value)
	case *types.SystemError:
		return "A general system error occurred: " + f.Reason
	}
	return sentence(reflect.TypeOf(fault).Elem().Name())
}

// sentence turns a fault type name into words, for faults without a text of their own:
// "HostConfigFault" -> "Host config fault.".
func sentence(name string) string {
	var words []string
	start := 0
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) && !unicode.IsUpper(rune(name[i-1])) {
			words = append(words, strings.ToLower(name[start:i]))
			start = i
		}
	}
	words = append(words, strings.ToLower(name[start:]))
	text := strings.Join(words, " ")
	return strings.ToUpper(text[:1]) + text[1:] + "."
}

func powerStateText(state types.VirtualMachinePowerState) string {
	switch state {
	case types.VirtualMachinePowerStatePoweredOn:
		return "Powered on"
	case types.VirtualMachinePowerStatePoweredOff:
		return "Powered off"
	case types.VirtualMachinePowerStateSuspended:
		return "Suspended"
	}
	return string(state)
}

func typeLabel(kind string) string {
	if kind == "" {
		return "object"
	}
	return sentence(kind)[:len(sentence(kind))-1]
}

// objectName is the name of a managed entity, or its moid when it has none.
func objectName(ref types.ManagedObjectReference) string {
	if e, ok := simulator.Map.Get(ref).(mo.Entity); ok && e.Entity().Name != "" {
		return e.Entity().Name
	}
	return ref.Value
}
