package main

import (
	"fmt"
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// extensionManager is vCenter's ExtensionManager, which govmomi 0.24.2's simulator lacks (its
// ServiceContent points at an object with an empty extensionList and no methods). It replaces that
// object in the registry, so the simulator dispatches the calls to it (with its session check and
// its per-object lock), and the PropertyCollector reads extensionList from the embedded mo type
// (embedded by value, first, as the PropertyCollector requires). Registrations belong to vCenter:
// every session sees them, until they are unregistered or the simulator stops.
type extensionManager struct {
	mo.ExtensionManager
}

func installExtensionManager() *extensionManager {
	m := &extensionManager{}
	m.Self = *vpx.ServiceContent.ExtensionManager
	simulator.Map.Put(m)
	return m
}

// FindExtension answers the registered extension with that key, or nothing (unset, no fault).
func (m *extensionManager) FindExtension(req *types.FindExtension) soap.HasFault {
	body := &methods.FindExtensionBody{Res: &types.FindExtensionResponse{}}
	if i := m.index(req.ExtensionKey); i >= 0 {
		found := m.ExtensionList[i]
		body.Res.Returnval = &found
	}
	return body
}

// RegisterExtension adds an extension; a key already registered is refused (InvalidArgument
// extension.key), as is a request without the properties the WSDL requires.
func (m *extensionManager) RegisterExtension(req *types.RegisterExtension) soap.HasFault {
	body := &methods.RegisterExtensionBody{}
	if fault := checkExtension(&req.Extension); fault != nil {
		body.Fault_ = fault
		return body
	}
	if m.index(req.Extension.Key) >= 0 {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "extension.key"})
		return body
	}
	list := append(append([]types.Extension(nil), m.ExtensionList...), req.Extension)
	m.set(list)
	body.Res = &types.RegisterExtensionResponse{}
	return body
}

// UpdateExtension replaces the record of a registered extension (NotFound if there is none).
func (m *extensionManager) UpdateExtension(req *types.UpdateExtension) soap.HasFault {
	body := &methods.UpdateExtensionBody{}
	if fault := checkExtension(&req.Extension); fault != nil {
		body.Fault_ = fault
		return body
	}
	i := m.index(req.Extension.Key)
	if i < 0 {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	list := append([]types.Extension(nil), m.ExtensionList...)
	list[i] = req.Extension
	m.set(list)
	body.Res = &types.UpdateExtensionResponse{}
	return body
}

// UnregisterExtension removes a registered extension (NotFound if there is none).
func (m *extensionManager) UnregisterExtension(req *types.UnregisterExtension) soap.HasFault {
	body := &methods.UnregisterExtensionBody{}
	i := m.index(req.ExtensionKey)
	if i < 0 {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	list := append(append([]types.Extension(nil), m.ExtensionList[:i]...), m.ExtensionList[i+1:]...)
	m.set(list)
	body.Res = &types.UnregisterExtensionResponse{}
	return body
}

// SetExtensionCertificate accepts a certificate for a registered extension (NotFound otherwise).
// The harness does not offer LoginExtensionByCertificate, so the certificate is not kept.
func (m *extensionManager) SetExtensionCertificate(req *types.SetExtensionCertificate) soap.HasFault {
	body := &methods.SetExtensionCertificateBody{}
	if m.index(req.ExtensionKey) < 0 {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	body.Res = &types.SetExtensionCertificateResponse{}
	return body
}

func (m *extensionManager) index(key string) int {
	for i := range m.ExtensionList {
		if m.ExtensionList[i].Key == key {
			return i
		}
	}
	return -1
}

// set stores the new list through the registry, so property collectors waiting for updates see
// extensionList change (the caller's call holds this object's lock).
func (m *extensionManager) set(list []types.Extension) {
	if len(list) == 0 {
		list = nil
	}
	simulator.Map.Update(m, []types.PropertyChange{{Name: "extensionList", Val: list}})
}

// checkExtension refuses what vCenter's request decoding refuses: a data object without one of
// the properties the WSDL marks required (vmodl.fault.InvalidRequest); and an empty key.
func checkExtension(e *types.Extension) *soap.Fault {
	if e.Key == "" {
		return simulator.Fault("", &types.InvalidArgument{InvalidProperty: "extension.key"})
	}
	missing := func(property, dataType string) *soap.Fault {
		return simulator.Fault(fmt.Sprintf("Required property %s is missing from data object of type %s", property, dataType), &types.InvalidRequest{})
	}
	if isNilDescription(e.Description) {
		return missing("description", "Extension")
	}
	if e.LastHeartbeatTime.IsZero() {
		return missing("lastHeartbeatTime", "Extension")
	}
	for _, s := range e.Server {
		switch {
		case isNilDescription(s.Description):
			return missing("description", "ExtensionServerInfo")
		case len(s.AdminEmail) == 0:
			return missing("adminEmail", "ExtensionServerInfo")
		}
	}
	for _, c := range e.Client {
		if isNilDescription(c.Description) {
			return missing("description", "ExtensionClientInfo")
		}
	}
	return nil
}

func isNilDescription(d types.BaseDescription) bool {
	if d == nil {
		return true
	}
	v := reflect.ValueOf(d)
	return v.Kind() == reflect.Ptr && v.IsNil()
}
