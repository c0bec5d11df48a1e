package main

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// collector is the PropertyCollector with vCenter's WaitForUpdates(Ex). govmomi 0.24.2's answers
// a wait by collecting every filter again, whole, for each change the registry reports (a task's
// creation, each of its updates, the change itself), every 250 ms: at 40,000 VMs under a
// ContainerView, one power-off cost many seconds of collection. It also registers each waiting
// collector as a registry listener under the collector's id, so two sessions waiting on the
// default "PropertyCollector" replace each other and the first stops hearing of changes.
//
// Here each collector keeps, per filter, the objects it selects, and learns from the registry
// which objects were made, changed or removed: an answer collects only the objects that entered
// a filter and the changed properties of its members (the filter's paths a change touches),
// within ~20 ms of the change. The selection (not the properties) is walked again only when an
// object a filter could show is made, or a property a filter's traversal follows changes (a view's
// `view`, a folder's childEntity, ...). Versions count up; a version the collector never gave is
// refused (InvalidCollectorVersion); maxObjectUpdates truncates an answer (truncated=true) and
// the next call brings the rest. Everything else (RetrieveProperties, CreateFilter, Fetch, ...)
// is the simulator's, by embedding; the simulator makes each session's default collector of this
// type, and CreatePropertyCollector makes more.
type collector struct {
	simulator.PropertyCollector

	mu sync.Mutex // guards w
	w  *watch
}

// installCollector replaces the registry's PropertyCollector, before any client session exists.
func installCollector() {
	simulator.Map.Put(&collector{PropertyCollector: simulator.PropertyCollector{
		PropertyCollector: mo.PropertyCollector{Self: vpx.ServiceContent.PropertyCollector},
	}})
	simulator.Map.AddHandler(changes)
}

// The registry's listener: it hands every change to the collectors that watch.
var changes = &feed{watches: map[*watch]bool{}}

type feed struct {
	mu      sync.Mutex
	watches map[*watch]bool
}

func (*feed) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VcsimHarness", Value: "collector-feed"}
}

// idleWatch: a collector that has not waited for this long is forgotten (its session has most
// likely ended; were it to wait again, its next answer would be computed from the full state).
const idleWatch = 30 * time.Minute

func (f *feed) each(do func(w *watch)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for w := range f.watches {
		if w.idleSince(now) > idleWatch {
			delete(f.watches, w)
			w.forgotten()
			continue
		}
		do(w)
	}
}

func (f *feed) PutObject(obj mo.Reference) {
	f.each(func(w *watch) { w.note(obj.Reference(), obj, entered, nil) })
}

func (f *feed) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	names := make([]string, len(changes))
	for i := range changes {
		names[i] = changes[i].Name
	}
	f.each(func(w *watch) { w.note(obj.Reference(), obj, modified, names) })
}

func (f *feed) RemoveObject(ref types.ManagedObjectReference) {
	f.each(func(w *watch) { w.note(ref, nil, left, nil) })
}

type changeKind int

const (
	modified changeKind = iota
	entered
	left
)

// watch is one collector's state between waits.
type watch struct {
	mu         sync.Mutex // guards dirty, structural, paths, kinds; never held while an object is locked
	dirty      map[types.ManagedObjectReference]*dirtyObject
	structural bool            // an object a filter could select was made, or a traversal path changed
	paths      map[string]bool // the filters' traversal paths
	kinds      []string        // the filters' property types
	waiting    bool            // a wait is in progress
	lastWait   time.Time       // when the last wait ended
	lost       bool            // forgotten while idle: the next wait starts from the full state

	waitMu  sync.Mutex // one wait at a time; guards the fields below
	filters map[types.ManagedObjectReference]*filterState
	version int
	pending []types.PropertyFilterUpdate // computed, not yet sent (a truncated answer)
	cancel  context.CancelFunc
	wake    chan struct{}
}

type dirtyObject struct {
	names map[string]bool
	left  bool
}

type filterState struct {
	spec    types.PropertyFilterSpec
	members map[types.ManagedObjectReference]bool
	ready   bool // its initial contents were reported
}

func (w *watch) note(ref types.ManagedObjectReference, obj mo.Reference, kind changeKind, names []string) {
	w.mu.Lock()
	d := w.dirty[ref]
	if d == nil {
		d = &dirtyObject{names: map[string]bool{}}
		w.dirty[ref] = d
	}
	switch kind {
	case entered:
		d.left = false
		for _, kind := range w.kinds {
			if typeMatches(kind, ref, obj) {
				w.structural = true
				break
			}
		}
	case left:
		d.left = true
	case modified:
		for _, name := range names {
			d.names[name] = true
			if !w.structural && touchesPath(name, w.paths) {
				w.structural = true
			}
		}
	}
	w.mu.Unlock()
	w.poke()
}

func (w *watch) idleSince(now time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting {
		return 0
	}
	return now.Sub(w.lastWait)
}

func (w *watch) forgotten() {
	w.mu.Lock()
	w.lost, w.dirty, w.structural = true, map[types.ManagedObjectReference]*dirtyObject{}, false
	w.mu.Unlock()
}

func (w *watch) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// touchesPath tells whether a change named name changes one of paths (or a property under one).
func touchesPath(name string, paths map[string]bool) bool {
	for path := range paths {
		if related(name, path) {
			return true
		}
	}
	return false
}

// related: the change `name` changes the property `path`: the same, one under the other.
func related(name, path string) bool {
	return name == path || strings.HasPrefix(name, path+".") || strings.HasPrefix(path, name+".")
}

// typeMatches is the simulator's rule for a PropertySpec's type: the object's type, or a type it
// extends (its mo type embeds it).
func typeMatches(kind string, ref types.ManagedObjectReference, obj mo.Reference) bool {
	if kind == ref.Type {
		return true
	}
	return obj != nil && appliesTo(kind, obj)
}

func (c *collector) state() *watch {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w == nil {
		c.w = &watch{dirty: map[types.ManagedObjectReference]*dirtyObject{}, filters: map[types.ManagedObjectReference]*filterState{},
			wake: make(chan struct{}, 1)}
	}
	return c.w
}

func (c *collector) CreatePropertyCollector(ctx *simulator.Context, req *types.CreatePropertyCollector) soap.HasFault {
	made := &collector{}
	made.Self.Type = "PropertyCollector" // the session names it; the type would be the Go type's
	return &methods.CreatePropertyCollectorBody{Res: &types.CreatePropertyCollectorResponse{
		Returnval: ctx.Session.Put(made).Reference(),
	}}
}

func (c *collector) CreateFilter(ctx *simulator.Context, req *types.CreateFilter) soap.HasFault {
	res := c.PropertyCollector.CreateFilter(ctx, req)
	c.state().poke() // a waiting client hears of the new filter's contents at once
	return res
}

func (c *collector) CancelWaitForUpdates(req *types.CancelWaitForUpdates) soap.HasFault {
	w := c.state()
	w.mu.Lock()
	cancel := w.cancel
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return &methods.CancelWaitForUpdatesBody{Res: &types.CancelWaitForUpdatesResponse{}}
}

func (c *collector) DestroyPropertyCollector(ctx *simulator.Context, req *types.DestroyPropertyCollector) soap.HasFault {
	c.CancelWaitForUpdates(&types.CancelWaitForUpdates{This: req.This})
	changes.mu.Lock()
	delete(changes.watches, c.state())
	changes.mu.Unlock()
	return c.PropertyCollector.DestroyPropertyCollector(ctx, req)
}

func (c *collector) WaitForUpdates(ctx *simulator.Context, req *types.WaitForUpdates) soap.HasFault {
	body := &methods.WaitForUpdatesBody{}
	set, fault := c.wait(ctx, req.Version, nil, 0)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	body.Res = &types.WaitForUpdatesResponse{Returnval: *set}
	return body
}

func (c *collector) WaitForUpdatesEx(ctx *simulator.Context, req *types.WaitForUpdatesEx) soap.HasFault {
	body := &methods.WaitForUpdatesExBody{}
	var maxWait *int32
	var maxObjects int32
	if req.Options != nil {
		maxWait, maxObjects = req.Options.MaxWaitSeconds, req.Options.MaxObjectUpdates
	}
	set, fault := c.wait(ctx, req.Version, maxWait, maxObjects)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	body.Res = &types.WaitForUpdatesExResponse{Returnval: set}
	return body
}

// coalesce: how long an answer waits after a change for the changes that come with it (a task's
// own updates, an object's properties set just after it was registered).
const coalesce = 20 * time.Millisecond

// wait answers one wait: nil when maxWait passed without a change.
func (c *collector) wait(ctx *simulator.Context, version string, maxWait *int32, maxObjects int32) (*types.UpdateSet, types.BaseMethodFault) {
	w := c.state()
	w.waitMu.Lock()
	defer w.waitMu.Unlock()
	if version != "" {
		if n, err := strconv.Atoi(version); err != nil || n <= 0 || n > w.version {
			return nil, &types.InvalidCollectorVersion{}
		}
	}

	wait, cancel := context.WithCancel(context.Background())
	if maxWait != nil && *maxWait > 0 {
		wait, cancel = context.WithTimeout(context.Background(), time.Duration(*maxWait)*time.Second)
	}
	defer cancel()
	w.mu.Lock()
	w.cancel, w.waiting = cancel, true
	lost := w.lost
	w.lost = false
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.waiting, w.lastWait = false, time.Now()
		w.mu.Unlock()
	}()

	if version == "" || lost { // the whole state again, and from now on what changes
		for _, f := range w.filters {
			f.ready = false
		}
		w.pending = nil
		changes.mu.Lock()
		changes.watches[w] = true
		changes.mu.Unlock()
	}
	for {
		if len(w.pending) == 0 {
			var fault types.BaseMethodFault
			if w.pending, fault = c.compute(ctx, w); fault != nil {
				return nil, fault
			}
		}
		if len(w.pending) > 0 {
			return w.answer(maxObjects), nil
		}
		if maxWait != nil && *maxWait == 0 {
			return nil, nil
		}
		select {
		case <-wait.Done():
			if wait.Err() == context.Canceled {
				return nil, &types.RequestCanceled{}
			}
			return nil, nil
		case <-w.wake:
			time.Sleep(coalesce)
		}
	}
}

// answer takes up to maxObjects object updates from pending (all when maxObjects <= 0).
func (w *watch) answer(maxObjects int32) *types.UpdateSet {
	w.version++
	set := &types.UpdateSet{Version: strconv.Itoa(w.version)}
	budget := int(maxObjects)
	for len(w.pending) > 0 {
		fu := &w.pending[0]
		if budget > 0 && len(fu.ObjectSet) > budget {
			set.FilterSet = append(set.FilterSet, types.PropertyFilterUpdate{Filter: fu.Filter, ObjectSet: fu.ObjectSet[:budget], MissingSet: fu.MissingSet})
			fu.ObjectSet, fu.MissingSet = fu.ObjectSet[budget:], nil
			set.Truncated = types.NewBool(true)
			return set
		}
		set.FilterSet = append(set.FilterSet, *fu)
		budget -= len(fu.ObjectSet)
		w.pending = w.pending[1:]
		if maxObjects > 0 && budget == 0 && len(w.pending) > 0 {
			set.Truncated = types.NewBool(true)
			return set
		}
	}
	return set
}

// compute turns what changed since the last answer into filter updates.
// A filter's object that does not exist when the filter is first answered is a fault
// (ManagedObjectNotFound), or, with reportMissingObjectsInResults, a missingSet entry.
func (c *collector) compute(ctx *simulator.Context, w *watch) ([]types.PropertyFilterUpdate, types.BaseMethodFault) {
	refs := append([]types.ManagedObjectReference(nil), c.Filter...)
	specs := map[types.ManagedObjectReference]types.PropertyFilterSpec{}
	for _, ref := range refs {
		if f, ok := ctx.Session.Get(ref).(*simulator.PropertyFilter); ok {
			specs[ref] = f.Spec
		}
	}
	for ref := range w.filters {
		if _, ok := specs[ref]; !ok {
			delete(w.filters, ref) // destroyed
		}
	}
	paths, kinds := map[string]bool{}, []string{}
	for _, ref := range refs {
		spec, ok := specs[ref]
		if !ok {
			continue
		}
		if w.filters[ref] == nil {
			w.filters[ref] = &filterState{spec: spec}
		}
		for _, p := range traversalPaths(spec) {
			paths[p] = true
		}
		for _, p := range spec.PropSet {
			kinds = append(kinds, p.Type)
		}
	}

	w.mu.Lock()
	dirty, structural := w.dirty, w.structural
	w.dirty, w.structural, w.paths, w.kinds = map[types.ManagedObjectReference]*dirtyObject{}, false, paths, kinds
	w.mu.Unlock()

	var out []types.PropertyFilterUpdate
	for _, ref := range refs {
		f := w.filters[ref]
		if f == nil {
			continue
		}
		fu := types.PropertyFilterUpdate{Filter: ref}
		var enter []types.ManagedObjectReference
		if !f.ready || structural {
			selected, missing := selectObjects(ctx, f.spec)
			if !f.ready {
				f.members = map[types.ManagedObjectReference]bool{}
				if len(missing) > 0 && !isTrue(f.spec.ReportMissingObjectsInResults) {
					return nil, &types.ManagedObjectNotFound{Obj: missing[0]}
				}
				for _, obj := range missing {
					fu.MissingSet = append(fu.MissingSet, types.MissingObject{Obj: obj,
						Fault: types.LocalizedMethodFault{Fault: &types.ManagedObjectNotFound{Obj: obj}}})
				}
			}
			now := make(map[types.ManagedObjectReference]bool, len(selected))
			for _, obj := range selected {
				now[obj] = true
				if !f.members[obj] {
					enter = append(enter, obj)
				}
			}
			for obj := range f.members {
				if !now[obj] {
					fu.ObjectSet = append(fu.ObjectSet, types.ObjectUpdate{Obj: obj, Kind: types.ObjectUpdateKindLeave})
				}
			}
			f.members, f.ready = now, true
		} else {
			for obj, d := range dirty {
				if d.left && f.members[obj] {
					delete(f.members, obj)
					fu.ObjectSet = append(fu.ObjectSet, types.ObjectUpdate{Obj: obj, Kind: types.ObjectUpdateKindLeave})
				}
			}
		}
		fu.ObjectSet = append(fu.ObjectSet, c.collect(ctx, enter, f.spec.PropSet, nil, types.ObjectUpdateKindEnter)...)
		entering := make(map[types.ManagedObjectReference]bool, len(enter))
		for _, obj := range enter {
			entering[obj] = true
		}
		var changed []types.ManagedObjectReference
		for obj, d := range dirty {
			if f.members[obj] && !entering[obj] && !d.left && len(d.names) > 0 {
				changed = append(changed, obj)
			}
		}
		sort.Slice(changed, func(i, j int) bool { return changed[i].Value < changed[j].Value })
		for _, obj := range changed {
			fu.ObjectSet = append(fu.ObjectSet, c.collect(ctx, []types.ManagedObjectReference{obj}, f.spec.PropSet, dirty[obj].names, types.ObjectUpdateKindModify)...)
		}
		if len(fu.ObjectSet) > 0 || len(fu.MissingSet) > 0 {
			out = append(out, fu)
		}
	}
	return out, nil
}

// collect reads objs' properties with the simulator's own RetrievePropertiesEx: all of the spec's
// paths for objects that enter; for a modified object, only the paths the change names touch.
func (c *collector) collect(ctx *simulator.Context, objs []types.ManagedObjectReference, propSet []types.PropertySpec, names map[string]bool, kind types.ObjectUpdateKind) []types.ObjectUpdate {
	if len(objs) == 0 {
		return nil
	}
	props := propSet
	if names != nil {
		props = nil
		obj := simulator.Map.Get(objs[0])
		for _, p := range propSet {
			if !typeMatches(p.Type, objs[0], obj) {
				continue
			}
			var paths []string
			if isTrue(p.All) {
				for name := range names {
					paths = append(paths, strings.SplitN(name, ".", 2)[0])
				}
			} else {
				for _, path := range p.PathSet {
					for name := range names {
						if related(name, path) {
							paths = append(paths, path)
							break
						}
					}
				}
			}
			if len(paths) > 0 {
				props = append(props, types.PropertySpec{Type: p.Type, PathSet: paths})
			}
		}
		if len(props) == 0 {
			return nil
		}
	}
	spec := types.PropertyFilterSpec{PropSet: props, ReportMissingObjectsInResults: types.NewBool(true)}
	for _, obj := range objs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: obj})
	}
	res, ok := c.PropertyCollector.RetrievePropertiesEx(ctx, &types.RetrievePropertiesEx{SpecSet: []types.PropertyFilterSpec{spec}}).(*methods.RetrievePropertiesExBody)
	if !ok || res.Res == nil || res.Res.Returnval == nil {
		return nil
	}
	var out []types.ObjectUpdate
	for _, content := range res.Res.Returnval.Objects {
		u := types.ObjectUpdate{Obj: content.Obj, Kind: kind, MissingSet: content.MissingSet}
		seen := map[string]bool{}
		for _, p := range content.PropSet {
			seen[p.Name] = true
			u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: p.Name, Op: types.PropertyChangeOpAssign, Val: p.Val})
		}
		if kind == types.ObjectUpdateKindModify { // a watched property that is now unset
			for _, p := range props {
				for _, path := range p.PathSet {
					if !seen[path] {
						seen[path] = true
						u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: path, Op: types.PropertyChangeOpAssign})
					}
				}
			}
		}
		out = append(out, u)
	}
	return out
}

func isTrue(b *bool) bool { return b != nil && *b }
