package main

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

const envelopeHead = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`
const envelopeTail = `</soapenv:Body></soapenv:Envelope>`

var (
	methodPattern = regexp.MustCompile(`<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([A-Za-z_]+)[\s>/]`)
	thisPattern   = regexp.MustCompile(`<(?:[\w-]+:)?_this[^>]*type="(\w+)"[^>]*>([^<]+)<`)
)

// A distributed switch is a VmwareDistributedVirtualSwitch in vCenter. The simulator registers it
// as a DistributedVirtualSwitch, and its property updates are typed by that name (mo.ApplyPropertyChange
// looks the type up by the reference's type), so the harness renames the type on the wire only:
// in requests to the simulator's name, in answers to vCenter's.
var (
	switchRefIn   = []byte(`type="VmwareDistributedVirtualSwitch"`)
	switchRefOut  = []byte(`type="DistributedVirtualSwitch"`)
	switchTypeIn  = regexp.MustCompile(`(<(?:[\w-]+:)?type(?:\s[^>]*)?>)VmwareDistributedVirtualSwitch(</(?:[\w-]+:)?type>)`)
	switchTypeOut = []byte("${1}DistributedVirtualSwitch${2}")
)

func switchTypeToSimulator(body []byte) []byte {
	body = bytes.ReplaceAll(body, switchRefIn, switchRefOut)
	return switchTypeIn.ReplaceAll(body, switchTypeOut)
}

func switchTypeToClient(body []byte) []byte {
	return bytes.ReplaceAll(body, switchRefOut, switchRefIn)
}

// soapCall is what the harness reads from a request before deciding what to do with it.
type soapCall struct {
	method string
	this   types.ManagedObjectReference
	body   []byte
}

func parseCall(body []byte) (soapCall, bool) {
	m := methodPattern.FindSubmatch(body)
	if m == nil {
		return soapCall{}, false
	}
	call := soapCall{method: string(m[1]), body: body}
	if this := thisPattern.FindSubmatch(body); this != nil {
		call.this = types.ManagedObjectReference{Type: string(this[1]), Value: string(this[2])}
	}
	return call, true
}

// decode turns the request into the simulator's own form (the vim25 request struct).
func (c soapCall) decode() (*simulator.Method, error) {
	return simulator.UnmarshalBody(typeFunc, c.body)
}

// typeFunc resolves vim25 type names, also when a client prefixes them ("ns1:TraversalSpec").
func typeFunc(name string) (reflect.Type, bool) {
	if kind, ok := types.TypeFunc()(name); ok {
		return kind, ok
	}
	if _, local, ok := strings.Cut(name, ":"); ok {
		return types.TypeFunc()(local)
	}
	return nil, false
}

func newOf(kind reflect.Type) interface{} { return reflect.New(kind).Interface() }

// newFault makes the named vim25 fault, e.g. "InsufficientResourcesFault" or "NotAuthenticated",
// with every object reference it carries pointing at the called object (clients refuse empty ones).
func newFault(r *rule, this types.ManagedObjectReference) types.BaseMethodFault {
	if kind, ok := types.TypeFunc()(r.Fault); ok {
		if fault, ok := newOf(kind).(types.BaseMethodFault); ok {
			fillReferences(reflect.ValueOf(fault).Elem(), this)
			if r.Message != "" {
				fault.GetMethodFault().FaultMessage = []types.LocalizableMessage{{Key: "vcsim.injected", Message: r.Message}}
			}
			return fault
		}
	}
	return &types.SystemError{Reason: "unknown fault type " + r.Fault}
}

var refType = reflect.TypeOf(types.ManagedObjectReference{})

func fillReferences(v reflect.Value, this types.ManagedObjectReference) {
	if v.Kind() != reflect.Struct {
		return
	}
	if v.Type() == refType {
		if v.CanSet() {
			v.Set(reflect.ValueOf(this))
		}
		return
	}
	for i := 0; i < v.NumField(); i++ {
		fillReferences(v.Field(i), this)
	}
}

// faultOf reads the vim25 fault out of a SOAP fault (decoded from XML, it is a value, not a pointer).
func faultOf(f *soap.Fault) types.BaseMethodFault {
	detail := reflect.ValueOf(f.VimFault())
	if detail.IsValid() && detail.Kind() != reflect.Ptr {
		pointer := reflect.New(detail.Type())
		pointer.Elem().Set(detail)
		detail = pointer
	}
	if detail.IsValid() {
		if fault, ok := detail.Interface().(types.BaseMethodFault); ok {
			return fault
		}
	}
	return &types.SystemError{Reason: f.String}
}

// decodeFault reads a SOAP fault response; ok is false when the body is not one.
func decodeFault(body []byte) (*soap.Fault, bool) {
	var envelope struct {
		Body struct {
			Fault *soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.TypeFunc = types.TypeFunc()
	if err := dec.Decode(&envelope); err != nil || envelope.Body.Fault == nil {
		return nil, false
	}
	return envelope.Body.Fault, true
}

func writeTaskResponse(w http.ResponseWriter, method string, task types.ManagedObjectReference) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `%s<%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>%s`,
		envelopeHead, method, task.Value, method, envelopeTail)
}

// writeResponse encodes res (a vim25 *XResponse struct) as the answer to method.
func writeResponse(w http.ResponseWriter, method string, res interface{}) {
	var out bytes.Buffer
	enc := xml.NewEncoder(&out)
	start := xml.StartElement{Name: xml.Name{Local: method + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "urn:vim25"}}}
	if err := enc.EncodeElement(res, start); err != nil {
		writeFault(w, &types.SystemError{Reason: "encoding the response: " + err.Error()}, "")
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, "%s%s%s", envelopeHead, out.String(), envelopeTail)
}

// writeFault answers with a SOAP fault; message "" means vCenter's text for the fault.
func writeFault(w http.ResponseWriter, fault types.BaseMethodFault, message string) {
	if message == "" {
		message = localizedMessage(fault)
	}
	kind := reflect.TypeOf(fault).Elem().Name()
	var detail bytes.Buffer
	enc := xml.NewEncoder(&detail)
	start := xml.StartElement{
		Name: xml.Name{Local: kind + "Fault"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "urn:vim25"}, {Name: xml.Name{Local: "xsi:type"}, Value: kind}},
	}
	if err := enc.EncodeElement(fault, start); err != nil {
		detail.Reset()
	}
	var escaped bytes.Buffer
	_ = xml.EscapeText(&escaped, []byte(message))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `%s<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring><detail>%s</detail></soapenv:Fault>%s`,
		envelopeHead, escaped.String(), detail.String(), envelopeTail)
}
