// Package memory is an in-memory storage.Provider with the same semantics as the durable
// providers. It backs tests and the `--storage memory` dev mode; everything is lost on exit.
//
// One mutex guards all state; the provider starts no goroutines.
package memory
