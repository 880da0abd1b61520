//go:build wasip1

package authorizer

import (
	"errors"
	"fmt"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// registered is the authorizer of this module. It is package state because WASM exports are
// plain functions: this is the only way they reach it.
var registered Authorizer

// last holds the strings of the previous request, reused by the next (see lastRequest).
var last lastRequest

// Register makes a the authorizer of this module. Call it once, from an init function of the
// main package. It panics (failing the module's start) on a second call.
func Register(a Authorizer) {
	if registered != nil {
		panic("authorizer.Register called twice")
	}
	m := a.Manifest()
	m.ABI = wasm.ABIVersion
	m.Role = wasm.RoleAuthorizer
	registered = a
	wasm.SetManifest(m)
}

func fail(err error) uint64 {
	if errors.Is(err, ErrInvalid) {
		return wasm.Reject(err.Error())
	}
	return wasm.Fail(err.Error())
}

//go:wasmexport authorizer_init
func authorizerInit(n int32) (res uint64) {
	in, ok := wasm.Input(n)
	if !ok || registered == nil {
		return wasm.Fail("no input or no authorizer registered")
	}
	defer func() {
		if r := recover(); r != nil {
			res = wasm.Fail(fmt.Sprintf("authorizer panicked in Init: %v", r))
		}
	}()
	if err := registered.Init(in); err != nil {
		return fail(err)
	}
	return wasm.OK(nil)
}

//go:wasmexport authorize
func authorize(n int32) (res uint64) {
	in, ok := wasm.Input(n)
	if !ok || registered == nil {
		return wasm.Fail("no input or no authorizer registered")
	}
	defer func() {
		if r := recover(); r != nil {
			res = wasm.Fail(fmt.Sprintf("authorizer panicked: %v", r))
		}
	}()
	req, err := parseRequest(in, &last)
	if err != nil {
		return fail(err)
	}
	d, err := registered.Authorize(req)
	if err != nil {
		return wasm.Fail(err.Error())
	}
	switch d.Access {
	case AccessNone, AccessRead, AccessWrite:
	default:
		return wasm.Fail(fmt.Sprintf("authorizer returned access %q, want none, read or write", d.Access))
	}
	return wasm.Finish(AppendDecision(wasm.Begin(wasm.StatusOK), d))
}
