// Package doctype turns a document engine's native Go functions (on decoded ops and documents)
// into a document type on JSON bytes, the form clients use: client/undo.Type, with
// Apply, Transform and Invert, and for CRDTs Restamp and RebaseStep. The shipped engines
// export theirs (text.Type(), richtext.Type(), json0.Type(), and form, jsoncrdt, tree and
// table's NewType(stamp)); an engine author whose module is written in Go gets a client-side
// type from the functions the module already has.
//
// Values are plain structs of functions, safe for concurrent use when the functions are.
package doctype
