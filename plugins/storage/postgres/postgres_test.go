package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/opstream/opstream/internal/testpg"
	"github.com/opstream/opstream/plugins/storage/postgres"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/pluginsdk/storagetest"
)

// srv is the server the tests share; each test works in a schema of its own.
var srv *testpg.Server

func TestMain(m *testing.M) {
	// The plugin tests re-execute this test binary as the provider subprocess, the way the
	// opstream binary re-executes itself as `opstream storage-plugin postgres`.
	storagetest.ServeIfChild(func(string) storage.Provider { return postgres.New() })
	flag.Parse()
	benchmarks := flag.Lookup("test.bench").Value.String() != ""
	var err error
	srv, err = testpg.Start(benchmarks) // benchmarks run with fsync on
	if err != nil {
		// Fail loudly: a test needing PostgreSQL never skips.
		fmt.Fprintf(os.Stderr, "FAIL: start PostgreSQL for the tests: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	srv.Stop()
	os.Exit(code)
}

// configJSON is a config block for schema on s.
func configJSON(t testing.TB, s *testpg.Server, schema string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"dsn": s.DSN("postgres"), "schema": schema, "maxConns": 8})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newProvider(t testing.TB, s *testpg.Server, schema string) *postgres.Provider {
	t.Helper()
	p := postgres.New()
	if err := p.Configure(context.Background(), configJSON(t, s, schema)); err != nil {
		t.Fatalf("configure: %v", err)
	}
	return p
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.Run(t, func(t *testing.T) storage.Provider { return newProvider(t, srv, srv.NewSchema()) })
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	dsn := srv.DSN("postgres")
	os.Setenv("OPSTREAM_TEST_PG_DSN", dsn) //nolint:errcheck // t.Setenv refuses parallel tests; the name is used by this test only
	tests := []struct {
		name   string
		config string
		ok     bool
	}{
		{"minimal", `{"dsn": "` + dsn + `", "schema": "` + srv.NewSchema() + `"}`, true},
		{"all keys", `{"dsn": "` + dsn + `", "maxConns": 3, "minConns": 1, "schema": "` + srv.NewSchema() + `"}`, true},
		{"dsn from env", `{"dsnEnv": "OPSTREAM_TEST_PG_DSN", "schema": "` + srv.NewSchema() + `"}`, true},
		{"empty", ``, false},
		{"no dsn", `{"maxConns": 3}`, false},
		{"unknown key", `{"dsn": "` + dsn + `", "pool": 3}`, false},
		{"dsn and dsnEnv", `{"dsn": "` + dsn + `", "dsnEnv": "OPSTREAM_TEST_PG_DSN"}`, false},
		{"unset env", `{"dsnEnv": "OPSTREAM_TEST_PG_DSN_UNSET"}`, false},
		{"negative maxConns", `{"dsn": "` + dsn + `", "maxConns": -1}`, false},
		{"minConns above maxConns", `{"dsn": "` + dsn + `", "maxConns": 2, "minConns": 3}`, false},
		{"bad schema", `{"dsn": "` + dsn + `", "schema": "Bad-Name"}`, false},
		{"bad dsn", `{"dsn": "postgres://u:secret@host:notaport/db"}`, false},
		{"trailing data", `{"dsn": "` + dsn + `"} {}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := postgres.New()
			defer p.Close()
			err := p.Configure(t.Context(), []byte(tc.config))
			if tc.ok && err != nil {
				t.Fatalf("configure: %v", err)
			}
			if !tc.ok && !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("configure: %v, want ErrInvalid", err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
			if !tc.ok {
				t.Log(err)
			}
		})
	}
}

func TestConfigureUnreachable(t *testing.T) {
	t.Parallel()
	p := postgres.New()
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := p.Configure(ctx, []byte(`{"dsn": "postgres://opstream@/postgres?host=/nonexistent&port=1&connect_timeout=2"}`))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("configure against no server: %v, want ErrUnavailable", err)
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	p := postgres.New()
	if err := p.Health(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("health: %v, want ErrUnavailable", err)
	}
}

// TestMigrationIdempotent configures several providers on one schema at once (nodes starting
// together), then once more: the schema is migrated exactly once and data survives.
func TestMigrationIdempotent(t *testing.T) {
	t.Parallel()
	schema := srv.NewSchema()
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	providers := make([]*postgres.Provider, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			providers[i] = postgres.New()
			errs[i] = providers[i].Configure(t.Context(), configJSON(t, srv, schema))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: configure: %v", i, err)
		}
	}
	doc := storage.DocKey{Tenant: "acme", ID: "kept"}
	resp, err := providers[0].Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: doc, Type: "text", Epoch: 2, Ops: storagetest.Ops(1, 4, 0)},
	}})
	if err != nil || resp.Results[0].Err != nil {
		t.Fatalf("append: %v %+v", err, resp)
	}
	for _, p := range providers {
		p.Close()
	}
	p := newProvider(t, srv, schema)
	defer p.Close()
	got, err := p.Load(t.Context(), doc)
	if err != nil || got.Info.Revision != 4 || got.Info.Epoch != 2 {
		t.Fatalf("load after reconfigure: %+v, %v", got, err)
	}
	if err := p.Configure(t.Context(), configJSON(t, srv, schema)); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("configure twice: %v, want ErrInvalid", err)
	}
	conn, err := pgx.Connect(t.Context(), srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, v int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), max(version) FROM `+schema+`.schema_migrations`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != 1 || v != 1 {
		t.Fatalf("schema_migrations has %d rows, max version %d; want 1 row, version 1", n, v)
	}
}

// TestRacingProviders races appenders on separate providers (separate pools, as separate
// nodes would be) for the same revisions: exactly one wins each round.
func TestRacingProviders(t *testing.T) {
	t.Parallel()
	schema := srv.NewSchema()
	const nodes, rounds = 4, 10
	ps := make([]*postgres.Provider, nodes)
	for i := range ps {
		ps[i] = newProvider(t, srv, schema)
		defer ps[i].Close()
	}
	// Two documents per request, listed in opposite orders by alternate nodes: lock ordering
	// must keep this deadlock-free.
	a := storage.DocKey{Tenant: "acme", ID: "a"}
	b := storage.DocKey{Tenant: "acme", ID: "b"}
	for round := range rounds {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins = map[storage.DocKey]int{}
			bad  []error
		)
		start := make(chan struct{})
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				docs := []storage.DocKey{a, b}
				if i%2 == 1 {
					docs = []storage.DocKey{b, a}
				}
				req := &storage.AppendRequest{}
				for _, d := range docs {
					req.Appends = append(req.Appends, storage.Append{Doc: d, Type: "text", ExpectedRevision: int64(round), Epoch: 1, Ops: storagetest.Ops(int64(round)+1, 1, 0)})
				}
				resp, err := p.Append(t.Context(), req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					bad = append(bad, err)
					return
				}
				for j, r := range resp.Results {
					switch {
					case r.Err == nil:
						wins[docs[j]]++
					case errors.Is(r.Err, storage.ErrConflict):
						if r.Revision != int64(round)+1 {
							bad = append(bad, fmt.Errorf("conflict revision %d, want %d", r.Revision, round+1))
						}
					default:
						bad = append(bad, r.Err)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins[a] != 1 || wins[b] != 1 || len(bad) > 0 {
			t.Fatalf("round %d: wins %v, errors %v; want one win per document", round, wins, bad)
		}
	}
}

// TestHealthServerDown stops its own server under a configured provider, then restarts it on
// the same port and data directory.
func TestHealthServerDown(t *testing.T) {
	t.Parallel()
	s, err := testpg.Start(false)
	if err != nil {
		t.Fatalf("start a second PostgreSQL: %v", err)
	}
	defer s.Stop()
	p := newProvider(t, s, "opstream")
	defer p.Close()
	doc := storage.DocKey{Tenant: "acme", ID: "survives"}
	if resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: doc, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 2, 0)},
	}}); err != nil || resp.Results[0].Err != nil {
		t.Fatalf("append: %v %+v", err, resp)
	}
	if err := p.Health(t.Context()); err != nil {
		t.Fatalf("health with the server up: %v", err)
	}

	s.Halt()
	start := time.Now()
	if err := p.Health(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("health with the server down: %v, want ErrUnavailable", err)
	} else {
		t.Logf("health down after %v: %v", time.Since(start), err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("health took %v with the server down, want under 3s", d)
	}
	_, err = p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: doc, Type: "text", ExpectedRevision: 2, Epoch: 1, Ops: storagetest.Ops(3, 1, 0)},
	}})
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("append with the server down: %v, want ErrUnavailable", err)
	}
	if _, err := p.Load(t.Context(), doc); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("load with the server down: %v, want ErrUnavailable", err)
	}

	if err := s.Resume(); err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	if err := p.Health(t.Context()); err != nil {
		t.Fatalf("health after restart: %v", err)
	}
	got, err := p.Load(t.Context(), doc)
	if err != nil || got.Info.Revision != 2 {
		t.Fatalf("load after restart: %+v, %v", got, err)
	}
}

// TestUnstorableText checks text PostgreSQL cannot hold is refused as invalid, not as a
// server error.
func TestUnstorableText(t *testing.T) {
	t.Parallel()
	p := newProvider(t, srv, srv.NewSchema())
	defer p.Close()
	ops := storagetest.Ops(1, 1, 0)
	ops[0].ClientID = "nul\x00"
	resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: storage.DocKey{Tenant: "acme", ID: "bad\xff"}, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 1, 0)},
		{Doc: storage.DocKey{Tenant: "acme", ID: "ok"}, Type: "text", Epoch: 1, Ops: ops},
		{Doc: storage.DocKey{Tenant: "acme", ID: "big epoch"}, Type: "text", Epoch: 1 << 63, Ops: storagetest.Ops(1, 1, 0)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if !errors.Is(r.Err, storage.ErrInvalid) {
			t.Errorf("append %d: %v, want ErrInvalid", i, r.Err)
		}
	}
	if _, err := p.Load(t.Context(), storage.DocKey{Tenant: "\x00", ID: "x"}); !errors.Is(err, storage.ErrInvalid) {
		t.Fatalf("load with a NUL tenant: %v, want ErrInvalid", err)
	}
}

// TestUniqueBackstop plants an op row the docs table does not account for (as a writer that
// bypassed the row lock would): the append that hits it fails alone with ErrConflict, through
// the (tenant, id, revision) key, and the other append of the request lands.
func TestUniqueBackstop(t *testing.T) {
	t.Parallel()
	schema := srv.NewSchema()
	p := newProvider(t, srv, schema)
	defer p.Close()
	conn, err := pgx.Connect(t.Context(), srv.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO `+schema+`.ops (tenant, id, revision, client_id, seq, data, ts)
		VALUES ('acme', 'planted', 1, 'x', 1, '', 0)`); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Append(t.Context(), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: storage.DocKey{Tenant: "acme", ID: "planted"}, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 2, 0)},
		{Doc: storage.DocKey{Tenant: "acme", ID: "fine"}, Type: "text", Epoch: 1, Ops: storagetest.Ops(1, 2, 0)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(resp.Results[0].Err, storage.ErrConflict) {
		t.Fatalf("append over a planted op: %+v, want ErrConflict", resp.Results[0])
	}
	if resp.Results[1].Err != nil || resp.Results[1].Revision != 2 {
		t.Fatalf("other append: %+v, want revision 2", resp.Results[1])
	}
	if _, err := p.Load(t.Context(), storage.DocKey{Tenant: "acme", ID: "planted"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("load planted: %v, want ErrNotFound (its creation rolled back)", err)
	}
}
