package redis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/opstream/opstream/plugins/storage/redis"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// configJSON is a config block for the shared server with a key prefix of its own.
func configJSON(t testing.TB) []byte {
	t.Helper()
	return configFor(t, shared.Addr(), nextPrefix())
}

func configFor(t testing.TB, addr, prefix string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"addr": addr, "keyPrefix": prefix, "poolSize": 20})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newProvider(t testing.TB) *redis.Provider {
	t.Helper()
	return newProviderWith(t, configJSON(t))
}

func newProviderWith(t testing.TB, cfg []byte) *redis.Provider {
	t.Helper()
	p := redis.New()
	if err := p.Configure(context.Background(), cfg); err != nil {
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
	tests := []struct {
		name   string
		config string
		ok     bool
	}{
		{"all keys", `{"addr": "` + shared.Addr() + `", "db": 1, "keyPrefix": "x:", "tls": false, "poolSize": 3}`, true},
		{"unknown key", `{"addr": "` + shared.Addr() + `", "database": 1}`, false},
		{"trailing data", `{"addr": "` + shared.Addr() + `"} {}`, false},
		{"bad addr", `{"addr": "no-port"}`, false},
		{"empty unix path", `{"addr": "unix://"}`, false},
		{"tls over unix", `{"addr": "` + shared.Addr() + `", "tls": true}`, false},
		{"negative db", `{"addr": "` + shared.Addr() + `", "db": -1}`, false},
		{"negative pool", `{"addr": "` + shared.Addr() + `", "poolSize": -1}`, false},
		{"password and env", `{"addr": "` + shared.Addr() + `", "password": "a", "passwordEnv": "X"}`, false},
		{"empty password env", `{"addr": "` + shared.Addr() + `", "passwordEnv": "OPSTREAM_TEST_REDIS_UNSET_PASSWORD_VARIABLE"}`, false},
		{"wrong type", `{"addr": "` + shared.Addr() + `", "db": "1"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := redis.New()
			defer p.Close()
			err := p.Configure(t.Context(), []byte(tc.config))
			if tc.ok && err != nil {
				t.Fatalf("configure: %v", err)
			}
			if !tc.ok && !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("configure: %v, want ErrInvalid", err)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

func TestConfigureUnreachable(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p := redis.New()
	defer p.Close()
	err = p.Configure(t.Context(), configFor(t, fmt.Sprintf("127.0.0.1:%d", port), "x:"))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("configure against a closed port: %v, want ErrUnavailable", err)
	}
	if err := p.Health(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("health of an unconfigured provider: %v, want ErrUnavailable", err)
	}
}

// TestHealthDownAndBack stops a private server under a configured provider, then starts it
// again on the same port.
func TestHealthDownAndBack(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startRedis(t.TempDir(), port)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	p := newProviderWith(t, configFor(t, srv.Addr(), "health:"))
	defer p.Close()
	doc := storage.DocKey{Tenant: "acme", ID: "doc"}
	if err := p.Health(t.Context()); err != nil {
		t.Fatalf("health while up: %v", err)
	}
	if _, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: doc, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 1, 0)},
	}}); err != nil {
		t.Fatalf("append while up: %v", err)
	}

	srv.Stop()
	start := time.Now()
	if err := p.Health(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("health while down: %v, want ErrUnavailable", err)
	} else {
		t.Logf("health while down (%v): %v", time.Since(start), err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("health while down took %v, want at most the 2s timeout", d)
	}
	calls := map[string]func(ctx context.Context) error{
		"append": func(ctx context.Context) error {
			_, err := p.Append(ctx, &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", ExpectedRevision: 1, Epoch: 1, Ops: storagetest.Ops(2, 1, 0)}}})
			return err
		},
		"read": func(ctx context.Context) error {
			_, err := p.ReadOps(ctx, &storage.ReadOpsRequest{Doc: doc, From: 1})
			return err
		},
		"load": func(ctx context.Context) error { _, err := p.Load(ctx, doc); return err },
		"list": func(ctx context.Context) error {
			_, err := p.List(ctx, &storage.ListRequest{Tenant: "acme"})
			return err
		},
		"snap":  func(ctx context.Context) error { return p.PutSnapshot(ctx, doc, storage.Snapshot{Revision: 1}) },
		"erase": func(ctx context.Context) error { return p.Delete(ctx, doc) },
	}
	for name, call := range calls {
		if err := call(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s while down: %v, want ErrUnavailable", name, err)
		}
	}

	if err := srv.Restart(); err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
	if err := p.Health(t.Context()); err != nil {
		t.Fatalf("health after restart: %v", err)
	}
	// The restarted server kept nothing (no persistence) and has an empty script cache.
	if _, err := p.Load(t.Context(), doc); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("load after restart without persistence: %v, want ErrNotFound", err)
	}
	resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 2, 0)}}})
	if err != nil || resp.Results[0].Err != nil || resp.Results[0].Revision != 2 {
		t.Fatalf("append after restart: %v %+v", err, resp)
	}
}

// TestKeyCollisions appends a different number of ops to documents whose tenant and id would
// collide under naive "tenant:id" key joining.
func TestKeyCollisions(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	defer p.Close()
	docs := []storage.DocKey{
		{Tenant: "a:b", ID: "c"},
		{Tenant: "a", ID: "b:c"},
		{Tenant: "a", ID: "b:c:h"},
		{Tenant: "a:b:c", ID: "h"},
		{Tenant: "1:a", ID: "b"},
		{Tenant: "1", ID: "a:1:b"},
		{Tenant: "", ID: "1:x:1:y"},
		{Tenant: "", ID: "x"},
		{Tenant: "x", ID: "y"},
		{Tenant: "x:", ID: "y"},
		{Tenant: "x", ID: ":y"},
		{Tenant: "t", ID: "d:1:t:1:x"},
		{Tenant: "t", ID: "{slot}*?[(-+"},
		{Tenant: "t", ID: "nul\x00byte"},
		{Tenant: "t", ID: "nul"},
		{Tenant: "t", ID: "\xff\xfe not utf-8"},
		{Tenant: "t", ID: "émoji 🎉 and 中文"},
	}
	for i, d := range docs {
		res, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
			{Doc: d, Type: fmt.Sprintf("type-%d", i), Epoch: uint64(i + 1), Ops: storagetest.Ops(1, i+1, 0)},
		}})
		if err != nil || res.Results[0].Err != nil {
			t.Fatalf("append %q: %v %+v", d, err, res)
		}
	}
	tenants := map[string][]string{}
	for i, d := range docs {
		got, err := p.Load(t.Context(), d)
		if err != nil {
			t.Fatalf("load %q: %v", d, err)
		}
		want := storage.DocInfo{Doc: d, Type: fmt.Sprintf("type-%d", i), Revision: int64(i + 1), Epoch: uint64(i + 1)}
		if got.Info != want {
			t.Fatalf("load %q: %+v, want %+v", d, got.Info, want)
		}
		resp, err := p.ReadOps(t.Context(), &storage.ReadOpsRequest{Doc: d, From: 1})
		if err != nil || len(resp.Ops) != i+1 {
			t.Fatalf("read %q: %d ops, %v; want %d", d, len(resp.Ops), err, i+1)
		}
		tenants[d.Tenant] = append(tenants[d.Tenant], d.ID)
	}
	for tenant, ids := range tenants {
		resp, err := p.List(t.Context(), &storage.ListRequest{Tenant: tenant})
		if err != nil || len(resp.Docs) != len(ids) {
			t.Fatalf("list %q: %d docs, %v; want %d", tenant, len(resp.Docs), err, len(ids))
		}
	}
	// Deleting each document leaves the others whole, and at the end no key is left.
	for i, d := range docs {
		if err := p.Delete(t.Context(), d); err != nil {
			t.Fatalf("delete %q: %v", d, err)
		}
		for _, other := range docs[i+1:] {
			if _, err := p.Load(t.Context(), other); err != nil {
				t.Fatalf("load %q after deleting %q: %v", other, d, err)
			}
		}
	}
}

// TestDeleteRemovesEveryKey checks no key of a deleted document survives, snapshot included.
func TestDeleteRemovesEveryKey(t *testing.T) {
	t.Parallel()
	prefix := nextPrefix()
	p := newProviderWith(t, configFor(t, shared.Addr(), prefix))
	defer p.Close()
	doc := storage.DocKey{Tenant: "acme", ID: "doc"}
	if _, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 3, 0)}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.PutSnapshot(t.Context(), doc, storage.Snapshot{Revision: 2, Type: "text", Data: []byte("s")}); err != nil {
		t.Fatal(err)
	}
	c := shared.Client()
	defer c.Close()
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil || len(keys) != 4 {
		t.Fatalf("keys before delete: %q, %v; want 4 (head, ops, snapshot, tenant index)", keys, err)
	}
	if err := p.Delete(t.Context(), doc); err != nil {
		t.Fatal(err)
	}
	if keys, err := c.Keys(t.Context(), prefix+"*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("keys after delete: %q, %v; want none", keys, err)
	}
}

// TestScriptCacheFlushed checks the provider reloads its scripts after SCRIPT FLUSH (what a
// server restart or failover does), in a multi-document append too.
func TestScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	defer p.Close()
	c := shared.Client()
	defer c.Close()
	a, b := storage.DocKey{Tenant: "acme", ID: "a"}, storage.DocKey{Tenant: "acme", ID: "b"}
	for round := range 3 {
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
			{Doc: a, Type: "text", ExpectedRevision: int64(round), Epoch: 1, Ops: storagetest.Ops(int64(round)+1, 1, 0)},
			{Doc: b, Type: "text", ExpectedRevision: int64(round), Epoch: 1, Ops: storagetest.Ops(int64(round)+1, 1, 0)},
			{Doc: b, Type: "text", ExpectedRevision: int64(round), Epoch: 1, Ops: storagetest.Ops(int64(round)+1, 1, 0)},
		}})
		if err != nil || resp.Results[0].Err != nil || resp.Results[1].Err != nil || !errors.Is(resp.Results[2].Err, storage.ErrInvalid) {
			t.Fatalf("append after SCRIPT FLUSH: %v %+v", err, resp)
		}
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := p.PutSnapshot(t.Context(), a, storage.Snapshot{Revision: int64(round) + 1, Type: "text"}); err != nil {
			t.Fatalf("put snapshot after SCRIPT FLUSH: %v", err)
		}
		if err := c.ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if r, err := p.ReadOps(t.Context(), &storage.ReadOpsRequest{Doc: b, From: 1}); err != nil || len(r.Ops) != round+1 {
			t.Fatalf("read ops after SCRIPT FLUSH: %v, %v", r, err)
		}
	}
}

// TestHugeEpochs checks epochs above 2^53, where Lua numbers lose precision, still fence.
func TestHugeEpochs(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	defer p.Close()
	doc := storage.DocKey{Tenant: "acme", ID: "epochs"}
	const big = uint64(1)<<63 + 1
	tests := []struct {
		name     string
		epoch    uint64
		expected int64
		want     error
	}{
		{"create at 2^63+1", big, 0, nil},
		{"2^63 is lower", big - 1, 1, storage.ErrFenced},
		{"2^53+1 is lower", 1<<53 + 1, 1, storage.ErrFenced},
		{"equal", big, 1, nil},
		{"max", ^uint64(0), 2, nil},
		{"max-1 is lower", ^uint64(0) - 1, 3, storage.ErrFenced},
	}
	for _, tc := range tests {
		resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
			{Doc: doc, Type: "text", ExpectedRevision: tc.expected, Epoch: tc.epoch, Ops: storagetest.Ops(tc.expected+1, 1, 0)},
		}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := resp.Results[0].Err; !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
			t.Fatalf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	got, err := p.Load(t.Context(), doc)
	if err != nil || got.Info.Epoch != ^uint64(0) || got.Info.Revision != 3 {
		t.Fatalf("load: %+v, %v", got, err)
	}
}

// TestReadPageByteCap checks a page of large ops stops near storage.MaxReadBytes and paging
// still returns every op.
func TestReadPageByteCap(t *testing.T) {
	t.Parallel()
	p := newProvider(t)
	defer p.Close()
	doc := storage.DocKey{Tenant: "acme", ID: "big-ops"}
	ops := storagetest.Ops(1, 7, 3<<20)
	if resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", Epoch: 1, Ops: ops}}}); err != nil || resp.Results[0].Err != nil {
		t.Fatalf("append: %v %+v", err, resp)
	}
	var got []storage.Op
	for from := int64(1); ; {
		resp, err := p.ReadOps(t.Context(), &storage.ReadOpsRequest{Doc: doc, From: from})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Ops) == 0 {
			break
		}
		size := 0
		for _, op := range resp.Ops {
			size += len(op.Data)
		}
		if len(resp.Ops) > 1 && size > storage.MaxReadBytes {
			t.Fatalf("page of %d ops holds %d bytes, over %d", len(resp.Ops), size, storage.MaxReadBytes)
		}
		got = append(got, resp.Ops...)
		from = resp.Ops[len(resp.Ops)-1].Revision + 1
	}
	if len(got) != len(ops) {
		t.Fatalf("read %d ops, want %d", len(got), len(ops))
	}
	for i := range ops {
		if got[i].Revision != ops[i].Revision || !bytes.Equal(got[i].Data, ops[i].Data) {
			t.Fatalf("op %d differs", i)
		}
	}
}

func TestMain(m *testing.M) {
	// The plugin tests re-execute this test binary as the provider subprocess, the way the
	// opstream binary re-executes itself as a storage plugin.
	storagetest.ServeIfChild(func(string) storage.Provider { return redis.New() })
	dir, err := os.MkdirTemp("", "opstream-redis-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	shared, err = startRedis(dir, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	shared.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}
