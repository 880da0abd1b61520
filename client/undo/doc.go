// Package undo gives a Go client per-peer undo and redo on an OpStream document: Undo reverts
// this peer's own last change, rebased over everything other peers did since, and never
// anyone else's edit; Redo reapplies what Undo reverted.
//
// History is the engine-agnostic core: two stacks of inverse ops kept applicable to the
// current document. Recording an own op pushes its inverse (Type.Invert against the document
// it applied to); every op of another peer transforms both stacks (the top over the remote op,
// the remote op over the top, and so on down, as Quill's history module does), so an undo is
// always an op on the current document that reverts only this peer's change.
//
// Editor runs History on a joined client.Doc together with the client-side half of OT that
// package client leaves to its caller: it keeps a local copy of the document, sends one op at
// a time (the rest wait, transformed as remote ops arrive) and transforms remote ops over the
// unacknowledged ones with the server's side convention (docs/plugins.md): the local op with
// Left over a remote op, the remote op with Right over the local op.
//
// A Type is a document type's functions on JSON ops and snapshots; the engine packages provide
// them natively (pluginsdk/doctype): text.Type(), richtext.Type(), json0.Type(), and for the
// CRDTs form.NewType(stamp), jsoncrdt.NewType(stamp), tree.NewType(stamp) and
// table.NewType(stamp), whose undo steps are restamped (Restamper) and drop what a newer op of
// another peer wrote (StepRebaser).
//
// Goroutines: an Editor's methods are safe for concurrent use. Run is the one goroutine that
// reads the Doc's events; the caller starts it and it returns when the Doc ends, ctx ends or
// the server refuses one of this peer's ops. History is not safe for concurrent use.
package undo
