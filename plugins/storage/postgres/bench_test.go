package postgres_test

import (
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// provider returns the provider in process or behind the plugin boundary, in a fresh schema.
func provider(b *testing.B, where string) storage.Provider {
	if where == "plugin" {
		return startPlugin(b, configJSON(b, srv, srv.NewSchema()))
	}
	p := newProvider(b, srv, srv.NewSchema())
	b.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkAppend: see storagetest.BenchAppend.
func BenchmarkAppend(b *testing.B) { storagetest.BenchAppend(b, provider) }

// BenchmarkReadOps100k: see storagetest.BenchReadOps100k.
func BenchmarkReadOps100k(b *testing.B) { storagetest.BenchReadOps100k(b, provider) }
