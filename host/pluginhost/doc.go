// Package pluginhost runs OpStream's WASM plugins (document engines and authorizers) in
// wazero, following ABI v1 (docs/plugins.md, constants in pluginsdk/wasm).
//
// # Pieces
//
//   - Runtime: one per server. It owns the wazero runtime (compiler engine, optional
//     compilation cache, a memory page limit, WithCloseOnContextDone) and WASI, which guests get
//     with no files, no environment, no arguments and fake clocks. Guest stdout and stderr are
//     captured, capped and logged with the module's name.
//   - Module: compiled once by Runtime.Compile, which refuses modules with forbidden imports,
//     missing or mistyped exports, a different ABI version or a bad manifest (ErrBadModule).
//   - Engine: a fixed pool of instances of an engine module. Doc is a live document held in
//     one instance's memory.
//   - Authorizer: a pool of initialized instances of an authorizer module; fails closed.
//
// # Goroutines and ownership
//
// The package starts no goroutines of its own (wazero starts one per call to watch the
// call's context, which ends with the call). All exported types are safe for concurrent use;
// the unit of serialization is the instance, because a wazero instance is not goroutine-safe:
//
//   - Engine: each instance sits in a slot with its own mutex. A call holds the slot's mutex
//     for the whole guest call (input handoff, call, copy of the result). Stateless calls
//     (Empty, Validate, Transform, Compose) take any idle healthy slot, else wait for one.
//     Doc calls always go to the Doc's slot, so documents on one instance serialize with each
//     other and with stateless calls routed there; the intended caller of a Doc is the one
//     goroutine owning that document (the document actor), which keeps ops in order.
//   - Authorizer: instances wait in a buffered channel; a call takes one, owns it alone for
//     the call, and gives it back.
//   - Deadlines count from when the call holds its instance; waiting for a busy instance is
//     bounded by the other call's deadline, not by ctx (a sync.Mutex cannot select on ctx).
//
// # Failures
//
// A status 1 or 2 result is a *GuestError (errors.Is ErrRejected or ErrGuest); the instance
// stays. A trap (Go panic, out of memory, unreachable, proc_exit), a deadline, a result out of
// bounds or over the output limit throws the instance away (wazero does not mark an instance
// closed after a Go guest's panic, so the host closes it) and the slot makes a new one on the
// next call that needs it. Every Doc that lived on a thrown-away instance then returns
// ErrInstanceLost: its owner reloads the document from storage and opens it again.
//
// Closing order: Engines and Authorizers, then Modules, then the Runtime (which also closes
// whatever is left).
package pluginhost
