package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// everyCall is the count of a rule that never runs out (-task-delay's, or count=all).
const everyCall = -1

// callCount is how many more calls a rule applies to; it shows as "all" for everyCall.
type callCount int

func (c callCount) MarshalJSON() ([]byte, error) {
	if c == everyCall {
		return []byte(`"all"`), nil
	}
	return json.Marshal(int(c))
}

// rule changes what matching SOAP calls do. All the rules that match a call apply together:
//   - the call takes the longest delay among them; a *_Task call returns its Task at once and the
//     Task stays "running" (its progress moving) for that long;
//   - then the first matching fault, if any, is the outcome: a *_Task call's Task ends in it, any
//     other call returns it as a SOAP fault; without a fault the real call runs.
type rule struct {
	Method  string    `json:"method"`
	Match   string    `json:"match,omitempty"` // substring of the SOAP request body
	Fault   string    `json:"fault,omitempty"` // a vim25 fault type name, e.g. InsufficientResourcesFault
	Message string    `json:"message,omitempty"`
	DelayMS int       `json:"delay_ms,omitempty"`
	Count   callCount `json:"count"`
	// Permanent rules come from -task-delay and survive DELETE.
	Permanent bool `json:"permanent,omitempty"`
}

func (r *rule) matches(method string, body []byte) bool {
	return r.Method == method && (r.Match == "" || bytes.Contains(body, []byte(r.Match)))
}

// plan is what the rules decided for one call.
type plan struct {
	delay time.Duration
	fault *rule // nil: the real call runs
}

func (p plan) empty() bool { return p.delay == 0 && p.fault == nil }

type rules struct {
	mu   sync.Mutex
	list []*rule
}

// parseDelays reads -task-delay: Method_Task=milliseconds,…
func parseDelays(spec string) ([]*rule, error) {
	var list []*rule
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
		list = append(list, &rule{Method: method, DelayMS: delay, Count: everyCall, Permanent: true})
	}
	return list, nil
}

// take returns the plan for this call and uses up the rules that made it.
func (rs *rules) take(method string, body []byte) plan {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var p plan
	kept := rs.list[:0]
	for _, r := range rs.list {
		used := false
		if r.matches(method, body) {
			if d := time.Duration(r.DelayMS) * time.Millisecond; d > p.delay {
				p.delay = d
			}
			used = r.Fault == "" || p.fault == nil // a second matching fault is not served, so not used up
			if r.Fault != "" && p.fault == nil {
				found := *r
				p.fault = &found
			}
		}
		if used && r.Count != everyCall {
			r.Count--
		}
		if r.Count != 0 {
			kept = append(kept, r)
		}
	}
	rs.list = kept
	return p
}

// serve is the control endpoint /vcsim/fault: POST adds a rule (query parameters method, match,
// fault, message, delay in ms, count: a number >= 1, or "all" (-1 says the same) for every call;
// default 1), DELETE clears the rules
// added here (not -task-delay's), GET lists them.
func (rs *rules) serve(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		added, problem := parseRule(r)
		if problem != "" {
			http.Error(w, problem, http.StatusBadRequest)
			return
		}
		rs.mu.Lock()
		rs.list = append(rs.list, added)
		rs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(added)
	case http.MethodDelete:
		rs.mu.Lock()
		kept := rs.list[:0]
		for _, r := range rs.list {
			if r.Permanent {
				kept = append(kept, r)
			}
		}
		rs.list = kept
		rs.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		rs.mu.Lock()
		defer rs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rs.list)
	default:
		http.Error(w, "GET, POST or DELETE", http.StatusMethodNotAllowed)
	}
}

func parseRule(r *http.Request) (*rule, string) {
	q := r.URL.Query()
	added := &rule{Method: q.Get("method"), Match: q.Get("match"), Fault: q.Get("fault"), Message: q.Get("message"), Count: 1}
	if added.Method == "" || (added.Fault == "" && q.Get("delay") == "") {
		return nil, "method and one of fault, delay are required"
	}
	if added.Fault != "" && !isFaultType(added.Fault) {
		return nil, "unknown vim25 fault type: " + added.Fault
	}
	if v := q.Get("delay"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return nil, "delay must be a whole number of milliseconds >= 0"
		}
		added.DelayMS = ms
	}
	switch v := q.Get("count"); v {
	case "":
	case "all", "-1":
		added.Count = everyCall
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, `count must be a whole number >= 1 (the calls the rule applies to), or "all" (or -1) for every call`
		}
		added.Count = callCount(n)
	}
	return added, ""
}

// isFaultType tells whether name is a vim25 fault type (a MethodFault), e.g. InvalidState.
func isFaultType(name string) bool {
	kind, ok := types.TypeFunc()(name)
	if !ok {
		return false
	}
	_, ok = newOf(kind).(types.BaseMethodFault)
	return ok
}
