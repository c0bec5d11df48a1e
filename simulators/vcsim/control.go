package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// rule changes what the next matching SOAP call does.
//   - Fault on a *_Task method: the call returns a Task that ends in that fault.
//   - Fault on any other method: the call returns that SOAP fault.
//   - Delay on a *_Task method: the call returns a Task in "running" at once; the real call runs
//     after the delay and its outcome (or the fault) is copied onto that Task.
//   - Delay on any other method: the answer (real, or the fault) comes that much later.
type rule struct {
	Method  string `json:"method"`
	Match   string `json:"match,omitempty"` // substring of the SOAP request body
	Fault   string `json:"fault,omitempty"` // a vim25 fault type name, e.g. InsufficientResourcesFault
	Message string `json:"message,omitempty"`
	DelayMS int    `json:"delay_ms,omitempty"`
	Count   int    `json:"count"` // calls left; -1: every call
	// Permanent rules come from -task-delay and survive DELETE.
	Permanent bool `json:"permanent,omitempty"`
}

type control struct {
	next  http.Handler
	mu    sync.Mutex
	rules []*rule
}

func parseDelays(spec string) ([]*rule, error) {
	var rules []*rule
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		method, ms, ok := strings.Cut(item, "=")
		delay, err := strconv.Atoi(ms)
		if !ok || err != nil || delay < 0 || !strings.HasSuffix(method, "_Task") {
			return nil, fmt.Errorf("%q: want Method_Task=milliseconds", item)
		}
		rules = append(rules, &rule{Method: method, DelayMS: delay, Count: -1, Permanent: true})
	}
	return rules, nil
}

func newControl(next http.Handler, rules []*rule) *control {
	return &control{next: next, rules: rules}
}

var (
	methodPattern = regexp.MustCompile(`<(?:[\w-]+:)?Body[^>]*>\s*<(?:[\w-]+:)?([A-Za-z_]+)[\s>/]`)
	thisPattern   = regexp.MustCompile(`<(?:[\w-]+:)?_this[^>]*type="(\w+)"[^>]*>([^<]+)<`)
	taskPattern   = regexp.MustCompile(`<returnval[^>]*type="Task"[^>]*>([^<]+)<`)
)

func (c *control) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/vcsim/fault" {
		c.serveControl(w, r)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/sdk" {
		c.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	m := methodPattern.FindSubmatch(body)
	if m == nil {
		c.next.ServeHTTP(w, r)
		return
	}
	method := string(m[1])
	matched := c.take(method, body)
	if matched == nil {
		c.next.ServeHTTP(w, r)
		return
	}
	log.Printf("rule %s match=%q fault=%q delay=%dms applied", matched.Method, matched.Match, matched.Fault, matched.DelayMS)
	this := thisPattern.FindSubmatch(body)
	if this == nil {
		writeFault(w, &rule{Fault: "InvalidRequest", Message: "no _this in request"}, types.ManagedObjectReference{})
		return
	}
	ref := types.ManagedObjectReference{Type: string(this[1]), Value: string(this[2])}
	if !strings.HasSuffix(method, "_Task") {
		time.Sleep(time.Duration(matched.DelayMS) * time.Millisecond)
		if matched.Fault == "" {
			c.next.ServeHTTP(w, r) // a slow call: the answer is the real one, late
			return
		}
		if matched.Fault == "NotAuthenticated" {
			// Make it true: end the caller's session, as vCenter does when a session expires.
			c.endSession(r.Header)
		}
		writeFault(w, matched, ref)
		return
	}
	entity := simulator.Map.Get(ref)
	if entity == nil {
		c.next.ServeHTTP(w, r)
		return
	}
	task := c.proxyTask(entity, method)
	header := r.Header.Clone()
	go func() {
		time.Sleep(time.Duration(matched.DelayMS) * time.Millisecond)
		if matched.Fault != "" {
			finish(task, nil, newFault(matched, ref))
			return
		}
		c.forward(task, header, body)
	}()
	writeTaskResponse(w, method, task.Self)
}

// take returns the first rule for this call and uses it up.
func (c *control) take(method string, body []byte) *rule {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, candidate := range c.rules {
		if candidate.Method != method || (candidate.Match != "" && !bytes.Contains(body, []byte(candidate.Match))) {
			continue
		}
		found := *candidate
		if candidate.Count > 0 {
			candidate.Count--
			if candidate.Count == 0 {
				c.rules = append(c.rules[:i], c.rules[i+1:]...)
			}
		}
		return &found
	}
	return nil
}

// proxyTask creates the Task the caller sees; it is "running" until finish() is called.
func (c *control) proxyTask(entity mo.Reference, method string) *simulator.Task {
	name := strings.TrimSuffix(method, "_Task") + "Task"
	task := simulator.CreateTask(entity, name, nil)
	now := time.Now()
	simulator.Map.Update(task, []types.PropertyChange{
		{Name: "info.startTime", Val: now},
		{Name: "info.state", Val: types.TaskInfoStateRunning},
		{Name: "info.progress", Val: int32(0)},
	})
	return task
}

func finish(task *simulator.Task, result types.AnyType, fault types.BaseMethodFault) {
	state := types.TaskInfoStateSuccess
	var localized interface{}
	if fault != nil {
		state = types.TaskInfoStateError
		localized = types.LocalizedMethodFault{Fault: fault, LocalizedMessage: fmt.Sprintf("%T", fault)}
	}
	simulator.Map.Update(task, []types.PropertyChange{
		{Name: "info.completeTime", Val: time.Now()},
		{Name: "info.state", Val: state},
		{Name: "info.progress", Val: int32(100)},
		{Name: "info.result", Val: result},
		{Name: "info.error", Val: localized},
	})
}

// endSession logs out the session that sent these headers.
func (c *control) endSession(header http.Header) {
	body := envelopeHead + `<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this></Logout>` + envelopeTail
	req := httptest.NewRequest(http.MethodPost, "/sdk", strings.NewReader(body))
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", "urn:vim25/6.5")
	c.next.ServeHTTP(httptest.NewRecorder(), req)
}

// forward runs the real call with the caller's session and copies its outcome onto the proxy.
func (c *control) forward(proxy *simulator.Task, header http.Header, body []byte) {
	req := httptest.NewRequest(http.MethodPost, "/sdk", bytes.NewReader(body))
	req.Header = header
	rec := httptest.NewRecorder()
	c.next.ServeHTTP(rec, req)
	out := rec.Body.Bytes()
	if m := taskPattern.FindSubmatch(out); m != nil {
		inner, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "Task", Value: string(m[1])}).(*simulator.Task)
		if !ok {
			finish(proxy, nil, &types.SystemError{Reason: "vcsim: task " + string(m[1]) + " vanished"})
			return
		}
		var fault types.BaseMethodFault
		if inner.Info.Error != nil {
			fault = inner.Info.Error.Fault
		}
		finish(proxy, inner.Info.Result, fault)
		return
	}
	finish(proxy, nil, decodeFault(out))
}

func decodeFault(body []byte) types.BaseMethodFault {
	var envelope struct {
		Body struct {
			Fault soap.Fault `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault"`
		} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.TypeFunc = types.TypeFunc()
	if err := dec.Decode(&envelope); err == nil {
		if fault, ok := envelope.Body.Fault.Detail.Fault.(types.BaseMethodFault); ok {
			return fault
		}
		return &types.SystemError{Reason: envelope.Body.Fault.String}
	}
	return &types.SystemError{Reason: "vcsim: unreadable response to delayed call"}
}

// newFault makes the named vim25 fault, e.g. "InsufficientResourcesFault" or "NotAuthenticated",
// with every object reference it carries pointing at the called object (clients refuse empty ones).
func newFault(r *rule, this types.ManagedObjectReference) types.BaseMethodFault {
	if kind, ok := types.TypeFunc()(r.Fault); ok {
		if fault, ok := reflect.New(kind).Interface().(types.BaseMethodFault); ok {
			fillReferences(reflect.ValueOf(fault).Elem(), this)
			if r.Message != "" {
				fault.GetMethodFault().FaultMessage = []types.LocalizableMessage{{Key: "vcsim.injected", Message: r.Message}}
			}
			return fault
		}
	}
	return &types.SystemError{Reason: "vcsim: unknown fault type " + r.Fault}
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

const envelopeHead = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`
const envelopeTail = `</soapenv:Body></soapenv:Envelope>`

func writeTaskResponse(w http.ResponseWriter, method string, task types.ManagedObjectReference) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, `%s<%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>%s`,
		envelopeHead, method, task.Value, method, envelopeTail)
}

func writeFault(w http.ResponseWriter, r *rule, this types.ManagedObjectReference) {
	fault := newFault(r, this)
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
	message := r.Message
	if message == "" {
		message = "vcsim: injected " + kind
	}
	var escaped bytes.Buffer
	_ = xml.EscapeText(&escaped, []byte(message))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `%s<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring><detail>%s</detail></soapenv:Fault>%s`,
		envelopeHead, escaped.String(), detail.String(), envelopeTail)
}

// serveControl: POST adds a rule (query parameters method, match, fault, message, delay, count),
// DELETE clears the rules added here (not -task-delay's), GET lists them.
func (c *control) serveControl(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		q := r.URL.Query()
		added := &rule{Method: q.Get("method"), Match: q.Get("match"), Fault: q.Get("fault"), Message: q.Get("message"), Count: 1}
		if added.Method == "" || (added.Fault == "" && q.Get("delay") == "") {
			http.Error(w, "method and one of fault, delay are required", http.StatusBadRequest)
			return
		}
		if added.Fault != "" {
			if _, ok := types.TypeFunc()(added.Fault); !ok {
				http.Error(w, "unknown vim25 fault type: "+added.Fault, http.StatusBadRequest)
				return
			}
		}
		for name, target := range map[string]*int{"delay": &added.DelayMS, "count": &added.Count} {
			if v := q.Get(name); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < -1 {
					http.Error(w, name+" must be an integer (count: -1 for every call)", http.StatusBadRequest)
					return
				}
				*target = n
			}
		}
		c.mu.Lock()
		c.rules = append(c.rules, added)
		c.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(added)
	case http.MethodDelete:
		c.mu.Lock()
		kept := c.rules[:0]
		for _, r := range c.rules {
			if r.Permanent {
				kept = append(kept, r)
			}
		}
		c.rules = kept
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		c.mu.Lock()
		defer c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.rules)
	default:
		http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
	}
}
