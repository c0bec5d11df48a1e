package main

import (
	"context"
	"flag"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// runEvents prints the newest events (of one object and what is below it, or of the whole
// inventory; of some types only) the way vCenter pages them: an EventHistoryCollector sized with SetCollectorPageSize,
// its latestPage printed in the order vCenter gives (newest first).
func runEvents(ctx context.Context, e *env, args []string) (interface{}, error) {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	count := fs.Int("n", 10, "page size (vCenter's default is 10)")
	var kinds stringList
	fs.Var(&kinds, "type", "only events of this type, e.g. VmClonedEvent (repeatable)")
	positional, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(positional) > 1 {
		return nil, usagef("events takes at most one object")
	}
	c := e.session.client
	filter := types.EventFilterSpec{EventTypeId: kinds}
	if len(positional) == 1 {
		ref, err := e.resolve(ctx, positional[0])
		if err != nil {
			return nil, err
		}
		filter.Entity = &types.EventFilterSpecByEntity{Entity: ref, Recursion: types.EventFilterSpecRecursionOptionAll}
	}
	created, err := methods.CreateCollectorForEvents(ctx, c, &types.CreateCollectorForEvents{
		This: *c.ServiceContent.EventManager, Filter: filter})
	if err != nil {
		return nil, err
	}
	collector := created.Returnval
	defer func() { _, _ = methods.DestroyCollector(ctx, c, &types.DestroyCollector{This: collector}) }()
	if _, err := methods.SetCollectorPageSize(ctx, c, &types.SetCollectorPageSize{This: collector, MaxCount: int32(*count)}); err != nil {
		return nil, err
	}
	values, err := e.properties(ctx, collector, "latestPage")
	if err != nil {
		return nil, err
	}
	events := []interface{}{}
	if page, ok := values["latestPage"].(types.ArrayOfEvent); ok {
		for _, event := range page.Event {
			events = append(events, wire(event))
		}
	}
	return events, nil
}

// runTasks prints TaskManager.recentTask (the newest -n of them, oldest first) with each task's
// info, read in one call.
func runTasks(ctx context.Context, e *env, args []string) (interface{}, error) {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	count := fs.Int("n", 25, "how many of the most recent tasks")
	if positional, err := parseFlags(fs, args); err != nil {
		return nil, err
	} else if len(positional) > 0 {
		return nil, usagef("tasks takes no positional arguments")
	}
	values, err := e.properties(ctx, *e.session.client.ServiceContent.TaskManager, "recentTask")
	if err != nil {
		return nil, err
	}
	recent, _ := values["recentTask"].(types.ArrayOfManagedObjectReference)
	refs := recent.ManagedObjectReference
	if len(refs) > *count {
		refs = refs[len(refs)-*count:]
	}
	tasks := []interface{}{}
	if len(refs) == 0 {
		return tasks, nil
	}
	spec := types.PropertyFilterSpec{PropSet: []types.PropertySpec{{Type: "Task", PathSet: []string{"info"}}}}
	for _, ref := range refs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: ref})
	}
	contents, err := e.retrieve(ctx, spec)
	if err != nil {
		return nil, err
	}
	infos := map[types.ManagedObjectReference]interface{}{}
	for _, content := range contents {
		for _, prop := range content.PropSet {
			infos[content.Obj] = wire(prop.Val)
		}
	}
	for _, ref := range refs {
		if info, ok := infos[ref]; ok { // a task vCenter has since dropped is left out
			tasks = append(tasks, info)
		}
	}
	return tasks, nil
}

// runTaskInfo prints one task's info (state, method, entity, error with vCenter's message).
func runTaskInfo(ctx context.Context, e *env, args []string) (interface{}, error) {
	positional, err := parseFlags(flag.NewFlagSet("task-info", flag.ContinueOnError), args)
	if err != nil {
		return nil, err
	}
	if len(positional) != 1 {
		return nil, usagef("task-info takes one task, e.g. Task:task-12")
	}
	ref, err := e.resolve(ctx, positional[0])
	if err != nil {
		return nil, err
	}
	values, err := e.properties(ctx, ref, "info")
	if err != nil {
		return nil, err
	}
	return wire(values["info"]), nil
}
