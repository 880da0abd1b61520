// Package authorizer is the guest-side SDK for OpStream authorizers written in Go and compiled
// to WASM (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared). An author implements Authorizer and
// calls Register once from an init function of the module's main package; the SDK provides the
// exports authorizer_init and authorize (docs/plugins.md).
//
// Request and Decision (in types.go, built for every platform so the host can reuse them) carry
// encoding/json tags; inside the guest they are read and written by the hand-written
// ParseRequest and AppendDecision, because encoding/json costs a Go guest about 50 µs per call
// against about 4 µs.
//
// Goroutines: a WASM instance runs one call at a time; the registered Authorizer is the only
// state the SDK keeps, at package level because exports are plain functions.
package authorizer
