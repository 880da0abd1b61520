package sqlite_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/opstream/opstream/plugins/storage/sqlite"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// configJSON is a config block for a database file in dir.
func configJSON(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"path": filepath.Join(dir, "data", "opstream.db"), "synchronous": "normal"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newProvider(t testing.TB) *sqlite.Provider {
	t.Helper()
	p := sqlite.New()
	if err := p.Configure(context.Background(), configJSON(t, t.TempDir())); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return p
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider { return newProvider(t) })
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name   string
		config string
		ok     bool
	}{
		{"minimal", `{"path": "` + filepath.Join(dir, "a", "b", "x.db") + `"}`, true},
		{"all keys", `{"path": "` + filepath.Join(dir, "y.db") + `", "synchronous": "NORMAL", "busyTimeoutMs": 100}`, true},
		{"empty", ``, false},
		{"no path", `{"synchronous": "full"}`, false},
		{"unknown key", `{"path": "` + filepath.Join(dir, "z.db") + `", "journal": "delete"}`, false},
		{"bad synchronous", `{"path": "` + filepath.Join(dir, "w.db") + `", "synchronous": "off"}`, false},
		{"negative busy timeout", `{"path": "` + filepath.Join(dir, "v.db") + `", "busyTimeoutMs": -1}`, false},
		{"trailing data", `{"path": "` + filepath.Join(dir, "u.db") + `"} {}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := sqlite.New()
			defer p.Close()
			err := p.Configure(t.Context(), []byte(tc.config))
			if tc.ok && err != nil {
				t.Fatalf("configure: %v", err)
			}
			if !tc.ok && !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("configure: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	cfg := configJSON(t, t.TempDir())
	doc := storage.DocKey{Tenant: "acme", ID: "durable"}
	p := sqlite.New()
	if err := p.Configure(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: doc, Type: "text", ExpectedRevision: 0, Epoch: 3, Ops: storagetest.Ops(1, 7, 10)},
	}})
	if err != nil || resp.Results[0].Err != nil {
		t.Fatalf("append: %v %+v", err, resp)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := p.Health(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("health after close: %v, want ErrUnavailable", err)
	}
	q := sqlite.New()
	defer q.Close()
	if err := q.Configure(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	got, err := q.Load(t.Context(), doc)
	if err != nil || got.Info.Revision != 7 || got.Info.Epoch != 3 {
		t.Fatalf("load after reopen: %+v, %v", got, err)
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	p := sqlite.New()
	if err := p.Health(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("health: %v, want ErrUnavailable", err)
	}
}

func TestMain(m *testing.M) {
	// The plugin tests re-execute this test binary as the provider subprocess, the way the
	// opstream binary re-executes itself as `opstream storage-plugin sqlite`.
	storagetest.ServeIfChild(func(string) storage.Provider { return sqlite.New() })
	os.Exit(m.Run())
}
