// Package engine is the guest-side SDK for OpStream document engines written in Go and compiled
// to WASM (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared). An author implements Engine (and
// optionally Composer) and calls Register once from an init function of the module's main
// package; the SDK provides every export of the engine ABI (docs/plugins.md): live documents
// behind u32 handles, framing, result statuses and panic recovery.
//
//	//go:build wasip1
//
//	package main
//
//	import "github.com/opstream/opstream/pluginsdk/engine"
//
//	func init() { engine.Register(myEngine{}) }
//
//	func main() {}
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o my.wasm ./path/to/module
//
// The exports live in this package (and pluginsdk/wasm); Go exports //go:wasmexport functions of
// every linked package, so importing the package is enough.
//
// Goroutines: a WASM instance runs one call at a time on one thread; the SDK's table of live
// documents is the only state it keeps, at package level because exports are plain functions.
package engine
