package main

import (
	"log"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// work is the real outcome of a *_Task call.
type work func() (types.AnyType, types.BaseMethodFault)

// taskList stands in for the TaskManager as the registry's listener for new objects, so that
// TaskManager.recentTask lists the Tasks callers were given, one per call, as vCenter does. The
// tasks the simulator makes for its own steps (a clone's CreateVM, a reset's power off and on, the
// inner task of a delayed call) stay out of it, and are dropped once they have finished.
type taskList struct {
	manager *simulator.TaskManager

	mu     sync.Mutex
	public map[types.ManagedObjectReference]bool
	inner  []types.ManagedObjectReference
}

func installTaskList() *taskList {
	l := &taskList{manager: simulator.Map.Get(*vpx.ServiceContent.TaskManager).(*simulator.TaskManager),
		public: map[types.ManagedObjectReference]bool{}}
	simulator.Map.AddHandler(l) // same reference as the TaskManager: it replaces it as a listener
	return l
}

func (l *taskList) Reference() types.ManagedObjectReference { return l.manager.Reference() }

func (l *taskList) PutObject(obj mo.Reference) {
	ref := obj.Reference()
	if ref.Type != "Task" {
		return
	}
	l.mu.Lock()
	public := l.public[ref]
	if !public {
		l.inner = append(l.inner, ref)
	}
	l.mu.Unlock()
	if public {
		l.manager.PutObject(obj)
	}
}

func (l *taskList) UpdateObject(mo.Reference, []types.PropertyChange) {}

func (l *taskList) RemoveObject(ref types.ManagedObjectReference) {
	l.mu.Lock()
	delete(l.public, ref)
	l.mu.Unlock()
}

// innerGrace: how long a finished inner task is left for the call that made it to read its outcome.
// Another task's sweep must never take it first: with several tasks at once, one finishing could
// remove the inner task of another call between that call's return and outcome() ("vanished").
const innerGrace = 10 * time.Second

// sweep drops from the registry the simulator's inner tasks that finished more than grace ago.
func (l *taskList) sweep(grace time.Duration) {
	l.mu.Lock()
	var done, kept []types.ManagedObjectReference
	for _, ref := range l.inner {
		task, ok := simulator.Map.Get(ref).(*simulator.Task)
		finished := ok && (task.Info.State == types.TaskInfoStateSuccess || task.Info.State == types.TaskInfoStateError)
		switch {
		case !ok:
		case finished && (grace == 0 || task.Info.CompleteTime == nil || time.Since(*task.Info.CompleteTime) > grace):
			done = append(done, ref)
		default:
			kept = append(kept, ref)
		}
	}
	l.inner = kept
	l.mu.Unlock()
	for _, ref := range done {
		simulator.Map.Remove(ref)
	}
}

// tasks makes the Task objects callers see and runs their work.
type tasks struct {
	list    *taskList
	invoker *invoker
}

// start creates the Task of one call on entity, queued, and posts its TaskEvent, as vCenter does
// when it accepts a task.
func (t *tasks) start(entity mo.Reference, method string) *simulator.Task {
	ref := entity.Reference()
	task := &simulator.Task{}
	task.Self = types.ManagedObjectReference{Type: "Task", Value: "task-" + itoa(nextID())}
	descriptionID, label := describe(ref.Type, method)
	task.Info = types.TaskInfo{
		Key:           task.Self.Value,
		Task:          task.Self,
		Name:          method,
		DescriptionId: descriptionID,
		Entity:        &ref,
		EntityName:    objectName(ref),
		State:         types.TaskInfoStateQueued,
		Cancelable:    false,
		QueueTime:     time.Now(),
		Reason:        &types.TaskReasonUser{UserName: t.invoker.session.UserName},
	}
	event := &types.TaskEvent{Info: task.Info}
	event.Event = entityEvent(entity)
	event.FullFormattedMessage = "Task: " + label
	postEvents(t.invoker.context(ref), event)
	task.Info.EventChainId = event.Key
	t.list.mu.Lock()
	t.list.public[task.Self] = true
	t.list.mu.Unlock()
	simulator.Map.Put(task)
	return task
}

// begin marks the task running, with its progress at 0.
func (t *tasks) begin(task *simulator.Task) {
	simulator.Map.Update(task, []types.PropertyChange{
		{Name: "info.startTime", Val: time.Now()},
		{Name: "info.state", Val: types.TaskInfoStateRunning},
		{Name: "info.progress", Val: int32(0)},
	})
}

// run takes a begun task to its end: a delay with progress moving, then the injected fault or
// the real work. A panic ends the task in a SystemError.
func (t *tasks) run(task *simulator.Task, p plan, this types.ManagedObjectReference, real work) {
	defer t.list.sweep(innerGrace)
	defer recoverInto(task.Info.Name, func(fault types.BaseMethodFault) { finish(task, nil, fault) })
	if p.delay > 0 {
		progress(task, p.delay)
	}
	if p.fault != nil {
		log.Printf("%s %s: injected %s", task.Self.Value, task.Info.Name, p.fault.Fault)
		finish(task, nil, newFault(p.fault, this))
		return
	}
	result, fault := real()
	finish(task, result, fault)
}

// progress moves info.progress from 0 towards 100 in steps while the delay runs.
func progress(task *simulator.Task, delay time.Duration) {
	const steps = 10
	step := delay / steps
	if step < 50*time.Millisecond {
		time.Sleep(delay)
		return
	}
	for i := 1; i < steps; i++ {
		time.Sleep(step)
		simulator.Map.Update(task, []types.PropertyChange{{Name: "info.progress", Val: int32(i * 100 / steps)}})
	}
	time.Sleep(delay - step*(steps-1))
}

func finish(task *simulator.Task, result types.AnyType, fault types.BaseMethodFault) {
	state := types.TaskInfoStateSuccess
	var failure interface{}
	if fault != nil {
		state = types.TaskInfoStateError
		failure = types.LocalizedMethodFault{Fault: fault, LocalizedMessage: localizedMessage(fault)}
	}
	simulator.Map.Update(task, []types.PropertyChange{
		{Name: "info.completeTime", Val: time.Now()},
		{Name: "info.state", Val: state},
		{Name: "info.progress", Val: int32(100)},
		{Name: "info.result", Val: result},
		{Name: "info.error", Val: failure},
	})
}

// describe finds vCenter's description of a task method, e.g. CloneVM_Task on a VirtualMachine:
// "VirtualMachine.clone", "Clone virtual machine".
func describe(kind, method string) (string, string) {
	name := strings.TrimSuffix(method, "_Task")
	short := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(name, "VM"), "Vm"))
	full := strings.ToLower(name)
	var prefixed *types.ElementDescription // e.g. ReconfigVM_Task: reconfigure; SearchDatastore_Task: search
	for _, info := range vpx.Description.MethodInfo {
		d := info.GetElementDescription()
		owner, key, ok := strings.Cut(d.Key, ".")
		if !ok || owner != kind {
			continue
		}
		switch key = strings.ToLower(key); {
		case key == short || key == full:
			return d.Key, d.Label
		case prefixed == nil && (strings.HasPrefix(key, short) || strings.HasPrefix(short, key)):
			prefixed = d
		}
	}
	if prefixed != nil {
		return prefixed.Key, prefixed.Label
	}
	return kind + "." + strings.ToLower(name[:1]) + name[1:], sentence(name)
}

// entityEvent fills an event's entity arguments for entity (and its host, cluster, datacenter).
func entityEvent(entity mo.Reference) types.Event {
	var event types.Event
	for ref := entity.Reference(); ref.Value != ""; {
		obj := simulator.Map.Get(ref)
		e, ok := obj.(mo.Entity)
		if !ok {
			break
		}
		name := types.EntityEventArgument{Name: e.Entity().Name}
		switch o := obj.(type) {
		case *simulator.VirtualMachine:
			event.Vm = &types.VmEventArgument{EntityEventArgument: name, Vm: ref}
			if o.Runtime.Host != nil && event.Host == nil {
				host := *o.Runtime.Host
				event.Host = &types.HostEventArgument{EntityEventArgument: types.EntityEventArgument{Name: objectName(host)}, Host: host}
				if h, ok := simulator.Map.Get(host).(*simulator.HostSystem); ok && h.Parent != nil {
					cr := *h.Parent
					event.ComputeResource = &types.ComputeResourceEventArgument{EntityEventArgument: types.EntityEventArgument{Name: objectName(cr)}, ComputeResource: cr}
				}
			}
		case *simulator.HostSystem:
			event.Host = &types.HostEventArgument{EntityEventArgument: name, Host: ref}
		case *simulator.ClusterComputeResource, *mo.ComputeResource:
			event.ComputeResource = &types.ComputeResourceEventArgument{EntityEventArgument: name, ComputeResource: ref}
		case *simulator.Datastore:
			event.Ds = &types.DatastoreEventArgument{EntityEventArgument: name, Datastore: ref}
		case *simulator.Datacenter:
			event.Datacenter = &types.DatacenterEventArgument{EntityEventArgument: name, Datacenter: ref}
		}
		if e.Entity().Parent == nil {
			break
		}
		ref = *e.Entity().Parent
	}
	return event
}

// postEvents posts events through the EventManager, holding its lock as the simulator does.
func postEvents(ctx *simulator.Context, events ...types.BaseEvent) {
	m := simulator.Map.EventManager()
	simulator.Map.WithLock(m, func() {
		for _, event := range events {
			m.PostEvent(ctx, &types.PostEvent{EventToPost: event})
		}
	})
}
