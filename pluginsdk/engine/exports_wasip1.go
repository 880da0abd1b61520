//go:build wasip1

package engine

import "github.com/opstream/opstream/pluginsdk/wasm"

// registered is the engine of this module. It is package state because WASM exports are plain
// functions: this is the only way they reach the engine and its live documents.
var registered *module

// Register makes e the engine of this module. Call it once, from an init function of the main
// package. It panics (failing the module's start) on a second call or an inconsistent manifest.
func Register(e Engine) {
	if registered != nil {
		panic("engine.Register called twice")
	}
	m, man, err := newModule(e)
	if err != nil {
		panic(err)
	}
	registered = m
	wasm.SetManifest(man)
}

func result(st byte, payload []byte) uint64 {
	return wasm.Finish(append(wasm.Begin(st), payload...))
}

func input(n int32) ([]byte, uint64, bool) {
	if registered == nil {
		return nil, wasm.Fail("no engine registered: call engine.Register from init"), false
	}
	in, ok := wasm.Input(n)
	if !ok {
		return nil, wasm.Fail("input length exceeds the buffer"), false
	}
	return in, 0, true
}

//go:wasmexport engine_empty
func engineEmpty() uint64 {
	if _, r, ok := input(0); !ok {
		return r
	}
	return result(guard(registered.empty))
}

//go:wasmexport engine_open
func engineOpen(n int32) uint64 {
	in, r, ok := input(n)
	if !ok {
		return r
	}
	return result(guard(func() (byte, []byte) { return registered.open(in) }))
}

//go:wasmexport engine_close
func engineClose(h int32) {
	if registered != nil {
		guard(func() (byte, []byte) { registered.close(uint32(h)); return 0, nil })
	}
}

//go:wasmexport engine_snapshot
func engineSnapshot(h int32) uint64 {
	if _, r, ok := input(0); !ok {
		return r
	}
	return result(guard(func() (byte, []byte) { return registered.snapshot(uint32(h)) }))
}

//go:wasmexport engine_apply
func engineApply(h, side, n int32) uint64 {
	in, r, ok := input(n)
	if !ok {
		return r
	}
	return result(registered.apply(uint32(h), side, in))
}

//go:wasmexport engine_transform
func engineTransform(side, n int32) uint64 {
	in, r, ok := input(n)
	if !ok {
		return r
	}
	return result(guard(func() (byte, []byte) { return registered.transform(side, in) }))
}

//go:wasmexport engine_validate
func engineValidate(n int32) uint64 {
	in, r, ok := input(n)
	if !ok {
		return r
	}
	return result(guard(func() (byte, []byte) { return registered.validate(in) }))
}

// engine_compose is exported by every module built with this SDK (a Go export cannot be
// conditional); the host calls it only when the manifest lists the capability "compose", and it
// fails with status 2 for an engine that does not implement Composer.
//
//go:wasmexport engine_compose
func engineCompose(n int32) uint64 {
	in, r, ok := input(n)
	if !ok {
		return r
	}
	return result(guard(func() (byte, []byte) { return registered.compose(in) }))
}
