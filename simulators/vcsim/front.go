package main

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// override does the real work of a *_Task method where the simulator's own code does not behave
// like vCenter; it runs in the task the caller was given.
type override func(method *simulator.Method) (types.AnyType, types.BaseMethodFault)

// check looks at a plain (non-task) call before the simulator does; it returns true when it
// answered the call itself (a refusal, or vCenter's answer where the simulator's is wrong).
type check func(w http.ResponseWriter, r *http.Request, call soapCall) bool

// harness is the HTTP front of the simulator: the control endpoint, the fault and delay rules,
// one vCenter-like Task per *_Task call, and the methods it answers as vCenter does. Everything
// else goes to the simulator. No request can take the process down: a panic becomes a SOAP
// fault (SystemError) and a log line.
type harness struct {
	next      http.Handler
	rules     *rules
	tasks     *tasks
	ids       *vcenterIDs
	overrides map[string]override
	checks    map[string]check
}

func (h *harness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/vcsim/fault" {
		h.rules.serve(w, r)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/sdk") {
		// Datastore files, NFC uploads, /about: streamed, not buffered; after a panic the reply
		// is a 500 if nothing was sent yet.
		defer recoverInto(r.Method+" "+r.URL.Path, func(fault types.BaseMethodFault) {
			http.Error(w, localizedMessage(fault), http.StatusInternalServerError)
		})
		h.next.ServeHTTP(w, r)
		return
	}
	// A SOAP answer is buffered: whatever happens while making it, the client gets a whole reply.
	rec := httptest.NewRecorder()
	func() {
		defer recoverInto("a SOAP request", func(fault types.BaseMethodFault) {
			rec = httptest.NewRecorder()
			writeFault(rec, fault, "")
		})
		h.serveSOAP(rec, r)
	}()
	rec.Body = bytes.NewBuffer(switchTypeToClient(rec.Body.Bytes()))
	copyResponse(w, rec)
}

func (h *harness) serveSOAP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body = switchTypeToSimulator(body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	call, ok := parseCall(body)
	if !ok {
		h.pass(w, r, call)
		return
	}
	p := h.rules.take(call.method, body)
	if !p.empty() {
		fault := ""
		if p.fault != nil {
			fault = p.fault.Fault
		}
		log.Printf("rules for %s: delay %s, fault %q", call.method, p.delay, fault)
	}
	if strings.HasSuffix(call.method, "_Task") {
		h.serveTask(w, r, call, p)
		return
	}
	time.Sleep(p.delay) // a plain call answers late: the real answer, or the fault
	if p.fault != nil {
		if p.fault.Fault == "NotAuthenticated" {
			// Make it true: end the caller's session, as vCenter does when a session expires.
			h.endSession(r.Header)
		}
		writeFault(w, newFault(p.fault, call.this), "")
		return
	}
	if c := h.checks[call.method]; c != nil && c(w, r, call) {
		return
	}
	h.pass(w, r, call)
}

// serveTask answers a *_Task call with one Task, the one that carries the outcome. Without a
// delay the work is done before the answer (the simulator's way, which tests rely on); with one,
// the Task is "running" at once and the work runs after the delay, under the harness's session.
func (h *harness) serveTask(w http.ResponseWriter, r *http.Request, call soapCall, p plan) {
	method, err := call.decode()
	if err != nil || !h.authenticated(r) {
		h.pass(w, r, call) // the simulator answers: a decoding fault, or NotAuthenticated
		return
	}
	entity := simulator.Map.Get(method.This)
	if entity == nil {
		h.pass(w, r, call) // ManagedObjectNotFound
		return
	}
	real := func() (types.AnyType, types.BaseMethodFault) { return outcome(h.tasks.invoker.call(method)) }
	if o := h.overrides[method.Name]; o != nil {
		real = func() (types.AnyType, types.BaseMethodFault) { return o(method) }
	}
	real = reportingChanges(method.Name, method.This, real)
	task := h.tasks.start(entity, method.Name)
	h.tasks.begin(task)
	if p.delay > 0 {
		go h.tasks.run(task, p, method.This, real)
	} else {
		h.tasks.run(task, p, method.This, real)
	}
	writeTaskResponse(w, call.method, task.Self)
}

// pass hands the call to the simulator; a fault it answers without a readable text gets vCenter's.
func (h *harness) pass(w http.ResponseWriter, r *http.Request, call soapCall) {
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	if call.this.Type == "HostDatastoreSystem" { // a datastore made at run time: see fixHostDatastores
		if dss, ok := simulator.Map.Get(call.this).(*simulator.HostDatastoreSystem); ok {
			h.ids.fixHostDatastores(dss.Host.Self)
		}
	}
	if rec.Code == http.StatusInternalServerError {
		if f, ok := decodeFault(rec.Body.Bytes()); ok && (f.String == "" || strings.HasPrefix(f.String, "*types.")) {
			writeFault(w, faultOf(f), "")
			return
		}
	}
	copyResponse(w, rec)
}

// internalRequest is a SOAP request carrying the caller's headers (its session cookie).
func internalRequest(header http.Header, payload string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/sdk", strings.NewReader(envelopeHead+payload+envelopeTail))
	req.Header = header.Clone()
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", "urn:vim25/6.5")
	return req
}

// authenticated tells whether the caller has a live session (the simulator checks it per call;
// the harness asks it with a harmless call).
func (h *harness) authenticated(r *http.Request) bool {
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, internalRequest(r.Header, `<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime>`))
	return rec.Code == http.StatusOK
}

// endSession logs out the session that sent these headers.
func (h *harness) endSession(header http.Header) {
	h.next.ServeHTTP(httptest.NewRecorder(), internalRequest(header, `<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this></Logout>`))
}
