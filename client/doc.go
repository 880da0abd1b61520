// Package client is the Go client for OpStream protocol v1 (docs/protocol.md) over a WebSocket.
//
// A Conn is one logical connection to a server. It owns these goroutines, all of which end when
// Close returns:
//
//   - a supervisor that runs each physical connection and, with Options.Reconnect, re-dials
//     with exponential backoff after a drop;
//   - per physical connection, one reader, which decodes frames (a single message or a JSON
//     array of messages) and routes replies, acks and broadcasts, and one writer, which drains
//     everything queued since its last write into ONE frame (a JSON array when it holds more
//     than one message, at most 1024 messages a frame).
//
// Several documents can be joined over one Conn. Conn.Join returns a Doc; each Doc delivers an
// ordered stream of Events (remote ops, acks and rejections of its own ops, awareness updates,
// peers leaving, reloads) on the channel returned by Doc.Events, which the caller must drain: the
// reader blocks while a Doc's channel is full, stalling the whole connection.
//
// Ops are opaque JSON to this package: the caller does its own operational transformation. The
// client numbers each submitted op with the Conn's client id and a per-document seq, tracks
// which ops are unacknowledged and, after a reconnect, rejoins every document from its last
// known revision and resubmits the unacknowledged ops with the same client id and seq (the
// server deduplicates them). Ops delivered after a reconnect continue in revision order with no
// duplicates.
//
// Errors the server reports are *protocol.Error values (use errors.As).
package client
