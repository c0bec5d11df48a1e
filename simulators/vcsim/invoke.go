package main

import (
	"context"
	"fmt"
	"log"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// invoker runs simulator methods in process, under the harness's own session. A task's real work
// runs this way, so it goes on after the session that started it has logged out or expired, as
// vCenter's tasks do (the session only started the task; the task belongs to vCenter).
type invoker struct {
	session *simulator.Session
}

func newInvoker(user string) *invoker {
	now := time.Now().UTC()
	return &invoker{session: &simulator.Session{
		UserSession: types.UserSession{
			Key: uuid.New().String(), UserName: user, FullName: user, LoginTime: now, LastActiveTime: now,
			Locale: "en", MessageLocale: "en", ExtensionSession: types.NewBool(false),
		},
		Registry: simulator.NewRegistry(),
	}}
}

// context is a request context for calls on this; Caller marks this as locked by the call, as
// the simulator's dispatcher does, so that its code does not lock it again.
func (in *invoker) context(this types.ManagedObjectReference) *simulator.Context {
	caller := this
	return &simulator.Context{Context: context.Background(), Session: in.session, Map: simulator.Map, Caller: &caller}
}

// call dispatches one decoded method as the simulator's own Service.call does (same lookup, same
// lock on the object), with a panic turned into a SystemError fault.
func (in *invoker) call(method *simulator.Method) (res soap.HasFault) {
	handler := simulator.Map.Get(method.This)
	if handler == nil {
		return faultBody(&types.ManagedObjectNotFound{Obj: method.This})
	}
	name := goMethodName(method.Name)
	m := reflect.ValueOf(handler).MethodByName(name)
	if !m.IsValid() {
		return faultBody(&types.MethodNotFound{Receiver: method.This, Method: method.Name})
	}
	if e, ok := handler.(mo.Entity); ok {
		for _, disabled := range e.Entity().DisabledMethod {
			if disabled == name {
				return faultBody(&types.MethodDisabled{})
			}
		}
	}
	args := []reflect.Value{}
	if m.Type().NumIn() == 2 {
		args = append(args, reflect.ValueOf(in.context(method.This)))
	}
	args = append(args, reflect.ValueOf(method.Body))
	defer recoverInto(method.Name, func(fault types.BaseMethodFault) { res = faultBody(fault) })
	simulator.Map.WithLock(handler, func() {
		res = m.Call(args)[0].Interface().(soap.HasFault)
	})
	return res
}

// goMethodName maps a SOAP method to the simulator's Go method: "CloneVM_Task" -> "CloneVMTask".
func goMethodName(method string) string {
	name := strings.ToUpper(method[:1]) + method[1:]
	if strings.HasSuffix(name, "_Task") {
		name = strings.TrimSuffix(name, "_Task") + "Task"
	}
	return name
}

type faultOnly struct{ fault *soap.Fault }

func (f faultOnly) Fault() *soap.Fault { return f.fault }

func faultBody(fault types.BaseMethodFault) soap.HasFault {
	f := &soap.Fault{Code: "ServerFaultCode", String: localizedMessage(fault)}
	f.Detail.Fault = fault
	return faultOnly{f}
}

// outcome reads what a simulator *_Task method did: it runs its task at once and answers with
// it, or answers with a SOAP fault. That inner task is the simulator's bookkeeping, not a task of
// vCenter's: it is dropped here (the caller sees one Task per call, the harness's).
func outcome(res soap.HasFault) (types.AnyType, types.BaseMethodFault) {
	if f := res.Fault(); f != nil {
		return nil, faultOf(f)
	}
	ret := reflect.ValueOf(res).Elem().FieldByName("Res")
	if !ret.IsValid() || ret.IsNil() {
		return nil, &types.SystemError{Reason: fmt.Sprintf("%T: no result", res)}
	}
	ref, ok := ret.Elem().FieldByName("Returnval").Interface().(types.ManagedObjectReference)
	if !ok || ref.Type != "Task" {
		return ret.Elem().FieldByName("Returnval").Interface(), nil
	}
	inner, ok := simulator.Map.Get(ref).(*simulator.Task)
	if !ok {
		return nil, &types.SystemError{Reason: "task " + ref.Value + " vanished"}
	}
	simulator.Map.Remove(ref)
	if inner.Info.Error != nil {
		return nil, inner.Info.Error.Fault
	}
	return inner.Info.Result, nil
}

// recoverInto, deferred, turns a panic into a SystemError handed to report, and logs it with
// its stack: one bad request must never take the simulator down.
func recoverInto(what string, report func(types.BaseMethodFault)) {
	p := recover()
	if p == nil {
		return
	}
	log.Printf("panic in %s: %v\n%s", what, p, debug.Stack())
	report(&types.SystemError{Reason: fmt.Sprintf("the simulator failed in %s: %v", what, p)})
}
