package main

import (
	"context"
	"flag"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// entity is how ls and find print an inventory object.
type entity struct {
	Path string `json:"path"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

var morefPattern = regexp.MustCompile(`^([A-Za-z]+):([A-Za-z0-9_.-]+)$`)

// parseMoref reads "Type:value", the form this client prints references in.
func parseMoref(arg string) (types.ManagedObjectReference, bool) {
	m := morefPattern.FindStringSubmatch(arg)
	if m == nil {
		return types.ManagedObjectReference{}, false
	}
	return types.ManagedObjectReference{Type: m[1], Value: m[2]}, true
}

// resolve turns "Type:value" or an inventory path into a reference. A path is looked up by
// vCenter itself (SearchIndex.FindByInventoryPath), so a path this client finds is one vCenter
// knows.
func (e *env) resolve(ctx context.Context, arg string) (types.ManagedObjectReference, error) {
	if ref, ok := parseMoref(arg); ok {
		return ref, nil
	}
	if !strings.HasPrefix(arg, "/") {
		return types.ManagedObjectReference{}, usagef("%q is neither Type:id nor an inventory path from /", arg)
	}
	if arg == "/" { // the root folder has no inventory path of its own
		return e.session.client.ServiceContent.RootFolder, nil
	}
	found, err := object.NewSearchIndex(e.session.client).FindByInventoryPath(ctx, arg)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	if found == nil {
		return types.ManagedObjectReference{}, fmt.Errorf("%s not found", arg)
	}
	return found.Reference(), nil
}

// retrieve is one RetrieveProperties call. A property vCenter could not read is a refusal.
func (e *env) retrieve(ctx context.Context, spec types.PropertyFilterSpec) ([]types.ObjectContent, error) {
	res, err := methods.RetrieveProperties(ctx, e.session.client, &types.RetrieveProperties{
		This: e.session.client.ServiceContent.PropertyCollector, SpecSet: []types.PropertyFilterSpec{spec}})
	if err != nil {
		return nil, err
	}
	for _, content := range res.Returnval {
		if len(content.MissingSet) > 0 {
			faults := make([]types.LocalizedMethodFault, len(content.MissingSet))
			for i, missing := range content.MissingSet {
				faults[i] = missing.Fault
				if faults[i].LocalizedMessage == "" {
					faults[i].LocalizedMessage = fmt.Sprintf("%s: cannot read %s", morefString(content.Obj), missing.Path)
				}
			}
			return nil, refusal(faults)
		}
	}
	return res.Returnval, nil
}

// properties reads props of one object as a map of property path to value.
func (e *env) properties(ctx context.Context, ref types.ManagedObjectReference, props ...string) (map[string]interface{}, error) {
	contents, err := e.retrieve(ctx, types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: ref}},
		PropSet:   []types.PropertySpec{{Type: ref.Type, PathSet: props}},
	})
	if err != nil {
		return nil, err
	}
	values := map[string]interface{}{}
	for _, content := range contents {
		for _, prop := range content.PropSet {
			values[prop.Name] = prop.Val
		}
	}
	return values, nil
}

// names reads the names of several entities in one call.
func (e *env) names(ctx context.Context, refs []types.ManagedObjectReference) (map[types.ManagedObjectReference]string, error) {
	names := map[types.ManagedObjectReference]string{}
	if len(refs) == 0 {
		return names, nil
	}
	spec := types.PropertyFilterSpec{PropSet: []types.PropertySpec{{Type: "ManagedEntity", PathSet: []string{"name"}}}}
	for _, ref := range refs {
		spec.ObjectSet = append(spec.ObjectSet, types.ObjectSpec{Obj: ref})
	}
	contents, err := e.retrieve(ctx, spec)
	if err != nil {
		return nil, err
	}
	for _, content := range contents {
		for _, prop := range content.PropSet {
			names[content.Obj], _ = prop.Val.(string)
		}
	}
	return names, nil
}

// runLs lists the children of each path with govmomi's finder (the list package's traversal:
// a cluster's hosts and its root pool, a datacenter's four folders, …).
func runLs(ctx context.Context, e *env, args []string) (interface{}, error) {
	paths, err := parseFlags(flag.NewFlagSet("ls", flag.ContinueOnError), args)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		paths = []string{e.dc.InventoryPath}
	}
	children := []entity{}
	for _, p := range paths {
		elements, err := e.finder.ManagedObjectListChildren(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, element := range elements {
			ref := element.Object.Reference()
			children = append(children, entity{Path: element.Path, Type: ref.Type, ID: ref.Value})
		}
	}
	return children, nil
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runFind lists the entities below a path through a recursive ContainerView, so the type filter
// is vCenter's own (a type includes its subtypes: Network finds port groups too). One
// RetrieveProperties reads the view and, walking each member's parent chain, every name needed to
// print its inventory path.
func runFind(ctx context.Context, e *env, args []string) (interface{}, error) {
	fs := flag.NewFlagSet("find", flag.ContinueOnError)
	var kinds stringList
	fs.Var(&kinds, "type", "a managed entity type (repeatable; default ManagedEntity)")
	name := fs.String("name", "*", "a glob on the entity's name")
	maxDepth := fs.Int("maxdepth", -1, "levels below PATH (-1: no limit)")
	roots, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(roots) != 1 {
		return nil, usagef("find takes one PATH")
	}
	if _, err := path.Match(*name, ""); err != nil {
		return nil, usagef("-name %q: %v", *name, err)
	}
	if len(kinds) == 0 {
		kinds = stringList{"ManagedEntity"}
	}
	start, err := e.resolve(ctx, roots[0])
	if err != nil {
		return nil, err
	}
	cv, err := view.NewManager(e.session.client).CreateContainerView(ctx, start, kinds, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cv.Destroy(ctx) }()

	up := &types.TraversalSpec{SelectionSpec: types.SelectionSpec{Name: "up"}, Type: "ManagedEntity", Path: "parent",
		SelectSet: []types.BaseSelectionSpec{&types.SelectionSpec{Name: "up"}}}
	contents, err := e.retrieve(ctx, types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: cv.Reference(), SelectSet: []types.BaseSelectionSpec{
			&types.TraversalSpec{Type: "ContainerView", Path: "view", SelectSet: []types.BaseSelectionSpec{up}}}}},
		PropSet: []types.PropertySpec{
			{Type: "ContainerView", PathSet: []string{"view"}},
			{Type: "ManagedEntity", PathSet: []string{"name", "parent"}},
		},
	})
	if err != nil {
		return nil, err
	}
	var members []types.ManagedObjectReference
	tree := map[types.ManagedObjectReference]struct {
		name   string
		parent *types.ManagedObjectReference
	}{}
	for _, content := range contents {
		node := tree[content.Obj]
		for _, prop := range content.PropSet {
			switch value := prop.Val.(type) {
			case types.ArrayOfManagedObjectReference: // the view, in vCenter's order
				members = value.ManagedObjectReference
			case string:
				node.name = value
			case types.ManagedObjectReference:
				node.parent = &value
			}
		}
		tree[content.Obj] = node
	}

	root := e.session.client.ServiceContent.RootFolder
	found := []entity{}
	for _, ref := range members {
		if ok, _ := path.Match(*name, tree[ref].name); !ok {
			continue
		}
		// Walk up to the root folder (whose name is not part of a path), counting the levels
		// below the start.
		var parts []string
		depth, below := 0, true
		for at := ref; at != root; {
			node, known := tree[at]
			if !known || node.parent == nil {
				return nil, fmt.Errorf("%s: parent chain broken at %s", morefString(ref), morefString(at))
			}
			if at == start {
				below = false
			}
			if below {
				depth++
			}
			parts = append([]string{node.name}, parts...)
			at = *node.parent
		}
		if *maxDepth < 0 || depth <= *maxDepth {
			found = append(found, entity{Path: "/" + strings.Join(parts, "/"), Type: ref.Type, ID: ref.Value})
		}
	}
	return found, nil
}

// runCollect prints properties of one object, converted as encode.go describes.
func runCollect(ctx context.Context, e *env, args []string) (interface{}, error) {
	positional, err := parseFlags(flag.NewFlagSet("collect", flag.ContinueOnError), args)
	if err != nil {
		return nil, err
	}
	if len(positional) < 2 {
		return nil, usagef("collect takes an object and at least one property")
	}
	ref, err := e.resolve(ctx, positional[0])
	if err != nil {
		return nil, err
	}
	values, err := e.properties(ctx, ref, positional[1:]...)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	for name, value := range values {
		out[name] = wire(value)
	}
	return out, nil
}

type named struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// runVMInfo prints where a VM runs, by name: its properties, then the names of what they point to
// in one more call.
func runVMInfo(ctx context.Context, e *env, args []string) (interface{}, error) {
	positional, err := parseFlags(flag.NewFlagSet("vm-info", flag.ContinueOnError), args)
	if err != nil {
		return nil, err
	}
	if len(positional) != 1 {
		return nil, usagef("vm-info takes one VM")
	}
	vm, err := e.vm(ctx, positional[0])
	if err != nil {
		return nil, err
	}
	values, err := e.properties(ctx, vm.Reference(), "name", "runtime.host", "runtime.powerState", "datastore", "network",
		"resourcePool", "guest.ipAddress", "guest.hostName")
	if err != nil {
		return nil, err
	}
	refs := func(name string) []types.ManagedObjectReference {
		switch v := values[name].(type) {
		case types.ManagedObjectReference:
			return []types.ManagedObjectReference{v}
		case types.ArrayOfManagedObjectReference:
			return v.ManagedObjectReference
		}
		return nil
	}
	var all []types.ManagedObjectReference
	for _, p := range []string{"runtime.host", "datastore", "network", "resourcePool"} {
		all = append(all, refs(p)...)
	}
	names, err := e.names(ctx, all)
	if err != nil {
		return nil, err
	}
	list := func(p string) []named {
		out := []named{}
		for _, ref := range refs(p) {
			out = append(out, named{ID: morefString(ref), Name: names[ref]})
		}
		return out
	}
	info := map[string]interface{}{
		"id": morefString(vm.Reference()), "name": values["name"], "powerState": values["runtime.powerState"],
		"datastores": list("datastore"), "networks": list("network"),
		"ipAddress": values["guest.ipAddress"], "hostName": values["guest.hostName"],
	}
	if host := list("runtime.host"); len(host) == 1 {
		info["host"] = host[0]
	}
	if pool := list("resourcePool"); len(pool) == 1 {
		info["pool"] = pool[0]
	}
	return info, nil
}
