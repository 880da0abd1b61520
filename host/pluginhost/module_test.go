package pluginhost

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

func TestCompileRefusesBadModules(t *testing.T) {
	t.Parallel()
	t.Cleanup(healthy(t)) // runs after the parallel subtests
	tests := []struct {
		name  string
		wasm  func(t *testing.T) []byte
		wants []string
	}{
		{"wrong ABI version", func(t *testing.T) []byte { return readWasm(t, "badabi") },
			[]string{"ABI version 2", "version 1"}},
		{"forbidden import", func(t *testing.T) []byte { return readWasm(t, "forbidden") },
			[]string{"imports env.forbidden, which is not allowed"}},
		{"missing role exports", func(t *testing.T) []byte { return readWasm(t, "noexports") },
			[]string{"does not export engine_"}},
		{"not wasm", func(*testing.T) []byte { return []byte("hello") },
			[]string{"compile module"}},
		{"empty", func(*testing.T) []byte { return nil }, []string{"compile module"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := shared.Compile(context.Background(), tt.name, tt.wasm(t))
			if err == nil {
				_ = m.Close(context.Background())
				t.Fatal("Compile succeeded; want ErrBadModule")
			}
			if !errors.Is(err, ErrBadModule) {
				t.Fatalf("err = %v; want ErrBadModule", err)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q; want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestInspect(t *testing.T) {
	t.Parallel()
	bin := readWasm(t, "engine")
	info, err := shared.Inspect(context.Background(), "engine", bin)
	if err != nil {
		t.Fatal(err)
	}
	if info.Manifest.Role != wasm.RoleEngine || info.Manifest.DocType != "counter" || info.ABIVersion != wasm.ABIVersion {
		t.Errorf("info = %+v", info)
	}
	if info.Size != len(bin) {
		t.Errorf("size = %d; want %d", info.Size, len(bin))
	}
	for _, e := range []string{wasm.ExportEngineApply, wasm.ExportEngineCompose, wasm.ExportInitialize} {
		if !slices.Contains(info.Exports, e) {
			t.Errorf("exports %v lack %s", info.Exports, e)
		}
	}
	for _, imp := range info.Imports {
		if !strings.HasPrefix(imp, "wasi_snapshot_preview1.") {
			t.Errorf("import %s", imp)
		}
	}

	info, err = shared.Inspect(context.Background(), "forbidden", readWasm(t, "forbidden"))
	if !errors.Is(err, ErrBadModule) || !slices.Contains(info.Imports, "env.forbidden") {
		t.Errorf("inspect forbidden: info.Imports = %v, err = %v", info.Imports, err)
	}
}

func TestWrongRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := NewEngine(ctx, module(t, "authorizer"), EngineConfig{Instances: 1}); !errors.Is(err, ErrWrongRole) {
		t.Errorf("NewEngine(authorizer) err = %v; want ErrWrongRole", err)
	}
	if _, err := NewAuthorizer(ctx, module(t, "engine"), nil, AuthorizerConfig{Instances: 1}); !errors.Is(err, ErrWrongRole) {
		t.Errorf("NewAuthorizer(engine) err = %v; want ErrWrongRole", err)
	}
}

func TestRuntimeConfig(t *testing.T) {
	t.Parallel()
	mustSetup(t)
	ctx := context.Background()
	if _, err := NewRuntime(ctx, RuntimeConfig{MemoryLimitPages: 70000}); err == nil {
		t.Error("MemoryLimitPages 70000 accepted")
	}
	r, err := NewRuntime(ctx, RuntimeConfig{CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Compile(ctx, "engine", readWasm(t, "engine"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ctx, m, EngineConfig{Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Empty(ctx); err == nil {
		t.Error("Empty after runtime Close succeeded")
	}
	if _, err := r.Compile(ctx, "engine", readWasm(t, "engine")); !errors.Is(err, ErrClosed) {
		t.Errorf("Compile after Close: %v; want ErrClosed", err)
	}
}
