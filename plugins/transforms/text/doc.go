// Package text is the `text` document engine of OpStream in pure Go: plain-text ops, snapshots
// and semantics exactly those of the npm package ot-text-unicode 4.x (ShareDB's text type),
// so JavaScript clients using that package interoperate byte for byte.
//
// Positions and lengths are counted in Unicode code points. An op is a JSON array of
// components, applied from the start of the document:
//
//	N          a positive integer: skip N characters
//	"str"      insert str
//	{"d":N}    delete N characters
//	{"d":"s"}  delete the characters of s (only len(s) matters: the text is not checked, as in
//	           ot-text-unicode)
//
// A snapshot is the document as a JSON string.
//
// The package has no build tags: the WASM module in ./wasm wraps it for the host through
// pluginsdk/engine, and the host or tests may use it natively. Ops are decoded by a hand-written
// JSON reader for exactly this shape (encoding/json costs a WASM guest an order of magnitude
// more). A live document (Doc) is a chunked rope whose Apply cost does not grow with the
// document's size.
//
// Differences from ot-text-unicode, all on inputs it accepts but that no conforming client
// sends: an op that deletes past the end of the document is rejected (the reference silently
// truncates it); non-integer or unsafe (> 2^53-1) skip and delete lengths, boolean components,
// delete objects with keys other than "d", and strings holding unpaired surrogates are rejected.
//
// Nothing in this package keeps global state; a Doc is not safe for concurrent use.
package text
