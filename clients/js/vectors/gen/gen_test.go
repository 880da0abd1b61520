package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestVectorsAreCurrent regenerates the vectors from the engines as they are now and compares
// them with the committed ones, so an engine change that alters a snapshot cannot leave the
// client's tests (clients/js/test/crdt.test.mjs) checking against stale vectors. After an
// intended engine change: go run ./clients/js/vectors/gen, then run the client's tests.
func TestVectorsAreCurrent(t *testing.T) {
	for _, name := range []string{"form", "json", "tree", "table"} {
		got, _, err := generate(name, defaultCases, defaultSeed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := os.ReadFile(filepath.Join("..", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("clients/js/vectors/%s.json is stale: the %s engine's results changed; run `go run ./clients/js/vectors/gen` and `npm test` in clients/js", name, name)
		}
	}
}
