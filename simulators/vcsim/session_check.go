package main

import (
	"net/http"
	"regexp"

	"github.com/vmware/govmomi/vim25/types"
)

// govmomi's simulator answers RetrieveProperties(Ex) without a session (it lists them among the
// session-less methods) with objects that carry no properties; vCenter answers NotAuthenticated, except
// for what a client reads before it logs in (the ServiceInstance's content, SessionManager.currentSession,
// which is unset then). A client whose session vCenter forgot (a restart, an expiry) must hear
// NotAuthenticated to log in again, not read an empty world.
var sessionlessTypes = map[string]bool{"ServiceInstance": true, "SessionManager": true}

var objTypePattern = regexp.MustCompile(`<obj[^>]*\stype="([^"]+)"`)

func installSessionCheck(h *harness) {
	for _, method := range []string{"RetrieveProperties", "RetrievePropertiesEx"} {
		h.checks[method] = h.requireSession
	}
}

// requireSession answers NotAuthenticated (true) when the call reads other objects than the
// session-less ones without a valid session; false lets the call through.
func (h *harness) requireSession(w http.ResponseWriter, r *http.Request, call soapCall) bool {
	sessionless := true
	for _, m := range objTypePattern.FindAllSubmatch(call.body, -1) {
		if !sessionlessTypes[string(m[1])] {
			sessionless = false
			break
		}
	}
	if sessionless || h.authenticated(r) {
		return false
	}
	fault := &types.NotAuthenticated{}
	fault.Object = call.this
	fault.PrivilegeId = "System.View"
	writeFault(w, fault, "")
	return true
}
