// Package authorizer is the guest-side SDK for OpStream authorizers written in Go and compiled
// to WASM (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared). An author implements Authorizer and
// calls Register once from an init function of the module's main package; the SDK provides the
// exports authorizer_init and authorize (docs/plugins.md).
//
// Request and Decision (in types.go, built for every platform so the host can reuse them) carry
// encoding/json tags; inside the guest they are read and written by the hand-written
// ParseRequest and AppendDecision, because encoding/json costs a Go guest about 50 µs per call
// against about 4 µs. They find the end of a string 8 bytes at a time
// (jsonscan.StringRun), and in the guest reuse the previous request's token and document id
// when they repeat (strings are immutable: an authorizer may keep them), so a steady stream of
// requests allocates nothing in the SDK.
//
// Goroutines: a WASM instance runs one call at a time; the registered Authorizer is the only
// state the SDK keeps, at package level because exports are plain functions.
package authorizer
