package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opstream/opstream/internal/testpg"
)

// TestExportSQLiteImportPostgresServe moves every document from SQLite to PostgreSQL with
// `opstream export` and `opstream import`, then serves from PostgreSQL: every document has the
// same snapshot and revision, and takes new ops.
func TestExportSQLiteImportPostgresServe(t *testing.T) {
	pg, err := testpg.Start(false)
	if err != nil {
		t.Fatalf("PostgreSQL is needed for this test (CI installs it): %v", err)
	}
	defer pg.Stop()

	s := startServer(t, "", "--snapshot-every", "10")
	want := map[string]docResp{}
	for d := 0; d < 5; d++ {
		id := fmt.Sprintf("doc-%d", d)
		text := ""
		for i := 0; i < 12+d; i++ {
			op := []any{"x"}
			if len(text) > 0 {
				op = []any{len(text), "y"}
			}
			if code, _ := postOp(t, s, id, int64(i), op, "c", uint64(i+1)); code != 200 {
				t.Fatal("setup")
			}
			text += "?"
		}
		_, want[id] = getDoc(t, s, id)
	}
	s.stop()

	dump := filepath.Join(t.TempDir(), "export.jsonl")
	sqliteConf := fmt.Sprintf(`{"path":%q}`, filepath.Join(s.dataDir, "opstream.db"))
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binPath, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("opstream %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	run("export", "--storage", "sqlite", "--storage-config", sqliteConf, "--out", dump)
	pgConf, _ := json.Marshal(map[string]any{"dsn": pg.DSN("postgres"), "schema": "migrated"})
	out := run("import", "--storage", "postgres", "--storage-config", string(pgConf), "--in", dump)
	if !strings.Contains(out, "imported 5 documents") {
		t.Fatalf("import said: %s", out)
	}
	// Importing again is a no-op (resumable).
	run("import", "--storage", "postgres", "--storage-config", string(pgConf), "--in", dump)

	p := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf("storage:\n  provider: postgres\n  config: %s\n", pgConf)))
	for id, w := range want {
		_, got := getDoc(t, p, id)
		if got.Revision != w.Revision || string(got.Snapshot) != string(w.Snapshot) {
			t.Fatalf("%s: %d %s, want %d %s", id, got.Revision, got.Snapshot, w.Revision, w.Snapshot)
		}
		if n := len(getOps(t, p, id).Ops); int64(n) != w.Revision {
			t.Fatalf("%s: %d ops in PostgreSQL, want %d", id, n, w.Revision)
		}
	}
	if code, r := postOp(t, p, "doc-0", want["doc-0"].Revision, []any{"z"}, "c2", 1); code != 200 || r.Revision != want["doc-0"].Revision+1 {
		t.Fatalf("op after migration: %d %+v", code, r)
	}
}
