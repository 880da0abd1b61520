// Package webhook delivers document events (doc.changed, doc.last_peer_left, doc.deleted) to
// the HTTP endpoints a deployment configures, signed with HMAC-SHA256 and at least once.
//
// The document actors call Dispatcher.DocChanged, LastPeerLeft and Deleted; these never block
// and never wait on the network: each endpoint has its own bounded queue and its own workers,
// and an event that finds its endpoint's queue full is dropped and counted (Hooks.Dropped).
// doc.changed is debounced per document: the first change opens a window (Config.Debounce)
// and the changes inside it are merged into one event carrying the revision range.
//
// Every event has an id, sent as the Idempotency-Key header and as "id" in the body, that
// stays the same across retries: a receiver that remembers the ids it processed handles each
// event exactly once. Receivers check the OpStream-Signature header with Verify.
//
// Goroutines: the Dispatcher owns its workers (Config.Workers per endpoint) and the debounce
// timers' callbacks; Close flushes pending doc.changed windows, delivers what is queued until
// its context ends, then abandons the rest (counted as dropped, reason "shutdown") and
// returns only once every goroutine has ended.
package webhook
