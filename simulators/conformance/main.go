// Command vio-conformance is VIO Manager's independent vSphere client for the simulator's
// conformance tests (tests/test_conformance_client.py). It speaks to vCenter only through
// govmomi's client library (Debian's golang-github-vmware-govmomi-dev), so what the tests check is
// seen by an implementation other than pyvmomi and other than the product.
//
// Usage:
//
//	VCENTER_PASSWORD=… vio-conformance -url https://HOST:PORT/sdk -user USER -fingerprint SHA256 COMMAND [flags] [args]
//
// The URL, user and fingerprint may also come from VCENTER_URL, VCENTER_USERNAME and
// VCENTER_FINGERPRINT; the password only ever comes from VCENTER_PASSWORD. Every command prints
// one JSON document on stdout. A refusal by vCenter exits 1 with {"error": {"fault", "message"}}
// on stderr (plus "task" when a task ended in the fault), the message being vCenter's own text;
// a usage error exits 2; anything else (unreachable, certificate not the pinned one, a path that
// names nothing) exits 3.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// command is one subcommand: it parses its own flags from args and returns what to print.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) (interface{}, error)
}

var commands = map[string]command{
	"ls":         {"ls PATH…: the children of each inventory path", runLs},
	"find":       {"find PATH [-type T]… [-name GLOB] [-maxdepth N]: entities below PATH (a ContainerView)", runFind},
	"collect":    {"collect OBJECT PROPERTY…: properties as RetrieveProperties returns them", runCollect},
	"vm-info":    {"vm-info VM: where a VM runs, by name (host, datastores, networks, pool)", runVMInfo},
	"import-ova": {"import-ova FILE -name N -pool P -ds D [-folder F] [-net NET] [-host H]: OVF import and NFC upload", runImportOVA},
	"clone":      {"clone -vm VM -name N [-host H] [-ds D] [-pool P] [-folder F] [-cpu N] [-mem MB] [-net NET] [-on]", runClone},
	"power":      {"power -on|-off VM", runPower},
	"customize":  {"customize -vm VM -ip IP -netmask M [-gateway G] [-hostname H] [-domain D] [-dns S]", runCustomize},
	"events":     {"events [-n N] [-type T]… [OBJECT]: the newest events, as the collector's latest page gives them", runEvents},
	"tasks":      {"tasks [-n N]: TaskManager.recentTask with each task's info", runTasks},
	"task-info":  {"task-info TASK: one task's info", runTaskInfo},
}

// env is what every command works with: the session and a finder rooted at the datacenter.
type env struct {
	session *vcSession
	finder  *find.Finder
	dc      *object.Datacenter
}

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...interface{}) error {
	return usageError{fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(argv []string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("vio-conformance", flag.ContinueOnError)
	global.SetOutput(stderr)
	rawURL := global.String("url", os.Getenv("VCENTER_URL"), "vCenter SDK URL, https://HOST:PORT/sdk")
	user := global.String("user", os.Getenv("VCENTER_USERNAME"), "user name (the password is VCENTER_PASSWORD)")
	pin := global.String("fingerprint", os.Getenv("VCENTER_FINGERPRINT"), "SHA-256 fingerprint of vCenter's certificate")
	dcPath := global.String("dc", "", "datacenter (default: the only one)")
	timeout := global.Duration("timeout", 10*time.Minute, "give up after this long")
	global.Usage = func() {
		fmt.Fprintln(stderr, "usage: VCENTER_PASSWORD=… vio-conformance -url URL -user USER -fingerprint SHA256 COMMAND [flags] [args]")
		global.PrintDefaults()
		names := make([]string, 0, len(commands))
		for name := range commands {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(stderr, "  %s\n", commands[name].summary)
		}
	}
	if err := global.Parse(argv); err != nil {
		return 2
	}
	if global.NArg() == 0 {
		global.Usage()
		return 2
	}
	cmd, ok := commands[global.Arg(0)]
	if !ok {
		return fail(stderr, usagef("unknown command %q", global.Arg(0)))
	}
	t, err := newTarget(*rawURL, *user, *pin)
	if err != nil {
		return fail(stderr, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	s, err := login(ctx, t)
	if err != nil {
		return fail(stderr, err)
	}
	defer s.logout(ctx)
	e := &env{session: s, finder: find.NewFinder(s.client, false)}
	if e.dc, err = e.finder.DatacenterOrDefault(ctx, *dcPath); err != nil {
		return fail(stderr, err)
	}
	e.finder.SetDatacenter(e.dc)

	result, err := cmd.run(ctx, e, global.Args()[1:])
	if err != nil {
		return fail(stderr, err)
	}
	out := json.NewEncoder(stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(result); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func newTarget(rawURL, user, pin string) (target, error) {
	if rawURL == "" || user == "" || pin == "" {
		return target{}, usagef("-url, -user and -fingerprint (or VCENTER_URL, VCENTER_USERNAME, VCENTER_FINGERPRINT) are required")
	}
	password, ok := os.LookupEnv("VCENTER_PASSWORD")
	if !ok {
		return target{}, usagef("VCENTER_PASSWORD is not set (the password is never taken from the command line)")
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return target{}, usagef("-url must be https://HOST[:PORT]/sdk, not %q", rawURL)
	}
	if u.Path == "" {
		u.Path = "/sdk"
	}
	fingerprint, err := normalizeFingerprint(pin)
	if err != nil {
		return target{}, usageError{err.Error()}
	}
	return target{url: u, username: user, password: password, fingerprint: fingerprint}, nil
}

// fail prints err and returns the exit code for it.
func fail(stderr io.Writer, err error) int {
	fault, message := describe(err)
	code := 3
	var usage usageError
	switch {
	case errors.As(err, &usage):
		code = 2
	case fault != "":
		code = 1
	}
	report := map[string]interface{}{"fault": fault, "message": message}
	var failedTask taskError
	if errors.As(err, &failedTask) {
		report["task"] = morefString(failedTask.task)
	}
	body, _ := json.Marshal(map[string]interface{}{"error": report})
	fmt.Fprintln(stderr, string(body))
	return code
}

// describe returns the vim25 fault type and vCenter's text of an error; the fault is "" when
// vCenter did not refuse anything (a network failure, a path that names nothing).
func describe(err error) (string, string) {
	var taskErr task.Error
	if errors.As(err, &taskErr) && taskErr.LocalizedMethodFault != nil {
		return typeName(taskErr.Fault()), taskErr.LocalizedMessage
	}
	var refusal refusedError
	if errors.As(err, &refusal) {
		return refusal.fault, refusal.message
	}
	for unwrapped := err; unwrapped != nil; unwrapped = errors.Unwrap(unwrapped) {
		switch {
		case soap.IsSoapFault(unwrapped):
			f := soap.ToSoapFault(unwrapped)
			return typeName(f.VimFault()), f.String
		case soap.IsVimFault(unwrapped):
			f := soap.ToVimFault(unwrapped)
			return typeName(f), typeName(f)
		}
	}
	return "", err.Error()
}

// refusedError is a fault vCenter reported in a result rather than as a SOAP fault (an import
// spec's errors, a lease's error).
type refusedError struct{ fault, message string }

func (e refusedError) Error() string { return e.message }

func refusal(faults []types.LocalizedMethodFault) error {
	messages := make([]string, len(faults))
	for i, f := range faults {
		messages[i] = f.LocalizedMessage
	}
	return refusedError{fault: typeName(faults[0].Fault), message: strings.Join(messages, "; ")}
}

// parseFlags parses flags given before, between or after positional arguments (Go's flag package
// stops at the first positional one) and returns the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
