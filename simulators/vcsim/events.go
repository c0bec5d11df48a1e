package main

import (
	"bytes"
	"container/ring"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"unsafe"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// The simulator keeps its events in a ring and, when it fills an event page (QueryEvents, a new
// EventHistoryCollector's latestPage), walks that ring the wrong way: a page of N holds the newest
// event and then the N-1 oldest. vCenter's page holds the N newest, newest first (govc's event
// tailer takes the first event as the latest). The fill is right when the page is as large as the
// whole history (maxPageSize, 1000 events), so the harness asks for that and cuts the page itself.
const eventHistory = 1000

// describeTaskEvents adds TaskEvent to the EventManager's event descriptions (category "info",
// as vCenter lists it), so clients such as govc show a category for the harness's task events.
// The message is made when the event is posted; the simulator renders fullFormat as a template
// on the event, so it is the message itself.
func describeTaskEvents() {
	m := simulator.Map.EventManager()
	simulator.Map.WithLock(m, func() {
		m.Description.EventInfo = append(m.Description.EventInfo, types.EventDescriptionEventDetail{
			Key: "TaskEvent", Description: "Task event", Category: string(types.EventCategoryInfo),
			FullFormat: "{{.FullFormattedMessage}}",
		})
	})
}

// queryEvents answers QueryEvents with the newest events first (all of them, up to 1000, or
// filter.maxCount).
func (h *harness) queryEvents(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, err := call.decode()
	if err != nil || !h.authenticated(r) {
		return false
	}
	req := method.Body.(*types.QueryEvents)
	wanted := int(req.Filter.MaxCount)
	req.Filter.MaxCount = eventHistory
	body, ok := h.tasks.invoker.call(method).(*methods.QueryEventsBody)
	if !ok || body.Res == nil {
		return false
	}
	events := body.Res.Returnval
	sort.SliceStable(events, func(i, j int) bool { return events[i].GetEvent().Key > events[j].GetEvent().Key })
	if wanted > 0 && wanted < len(events) {
		body.Res.Returnval = events[:wanted]
	}
	writeResponse(w, call.method, body.Res)
	return true
}

var (
	maxCountElement = regexp.MustCompile(`<((?:[\w-]+:)?)maxCount(\s[^>]*)?>\d+</(?:[\w-]+:)?maxCount>`)
	filterEnd       = regexp.MustCompile(`</((?:[\w-]+:)?)filter>`)
	collectorRef    = regexp.MustCompile(`<returnval[^>]*type="EventHistoryCollector"[^>]*>([^<]+)<`)
)

// createCollectorForEvents makes the collector through the simulator (it belongs to the caller's
// session) with a page as large as the history, then cuts its page to the size asked (10 by
// default, as vCenter's), keeping the newest events.
func (h *harness) createCollectorForEvents(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, err := call.decode()
	if err != nil {
		return false
	}
	size := int(method.Body.(*types.CreateCollectorForEvents).Filter.MaxCount)
	if size <= 0 {
		size = 10
	}
	whole := []byte("<${1}maxCount${2}>" + strconv.Itoa(eventHistory) + "</${1}maxCount>")
	body := call.body
	if maxCountElement.Match(body) {
		body = maxCountElement.ReplaceAll(body, whole)
	} else {
		body = filterEnd.ReplaceAll(body, append(whole, "</${1}filter>"...))
	}
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	if m := collectorRef.FindSubmatch(rec.Body.Bytes()); m != nil && rec.Code == http.StatusOK {
		trimPage(types.ManagedObjectReference{Type: "EventHistoryCollector", Value: string(m[1])}, size)
	}
	copyResponse(w, rec)
	return true
}

// setCollectorPageSize refills the page from the whole history, then cuts it to the size asked
// (the simulator's own shrink keeps the wrong end of the ring).
func (h *harness) setCollectorPageSize(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	method, err := call.decode()
	if err != nil {
		return false
	}
	size := int(method.Body.(*types.SetCollectorPageSize).MaxCount)
	if size <= 0 || size > eventHistory {
		return false // the simulator refuses it (InvalidArgument maxCount), as vCenter does
	}
	body := maxCountElement.ReplaceAll(call.body, []byte("<${1}maxCount${2}>"+strconv.Itoa(eventHistory)+"</${1}maxCount>"))
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	if rec.Code == http.StatusOK {
		trimPage(call.this, size)
	}
	copyResponse(w, rec)
	return true
}

// trimPage keeps the newest size events of the collector's page. The collector and its page are
// the simulator's unexported state (EventManager.collectors, EventHistoryCollector.page): there is
// no other way to set them, so they are reached with reflect and unsafe, in this one place.
func trimPage(ref types.ManagedObjectReference, size int) {
	m := simulator.Map.EventManager()
	simulator.Map.WithLock(m, func() {
		found := reflect.ValueOf(m).Elem().FieldByName("collectors").MapIndex(reflect.ValueOf(ref))
		if !found.IsValid() || found.IsNil() {
			return
		}
		collector := (*simulator.EventHistoryCollector)(unsafe.Pointer(found.Pointer()))
		events := collector.GetLatestPage() // the whole history that matches
		sort.SliceStable(events, func(i, j int) bool { return events[i].GetEvent().Key > events[j].GetEvent().Key })
		page := ring.New(size)
		at, last := page, int32(-1)
		for _, event := range events {
			if key := event.GetEvent().Key; key != last && size > 0 { // a refill can leave an event twice
				at.Value, at, last, size = event, at.Next(), key, size-1
			}
		}
		field := reflect.ValueOf(collector).Elem().FieldByName("page")
		*(**ring.Ring)(unsafe.Pointer(field.UnsafeAddr())) = page
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for name, values := range rec.Header() {
		w.Header()[name] = values
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
