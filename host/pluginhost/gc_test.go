package pluginhost

import (
	"context"
	"testing"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// TestGuestHeapStaysBounded applies many ops through the text engine under a 64 MiB memory
// limit. A Go reactor guest only runs goroutines while an export runs, so its garbage collector
// never finished a cycle until the SDK yielded at the end of every export; the heap then grew
// without bound (it ran out of 64 MiB after about 20,000 ops rebased over up to 99 concurrent ones with a
// snapshot every 100).
func TestGuestHeapStaysBounded(t *testing.T) {
	requireGuest(t, "text")
	ctx := context.Background()
	rt, err := NewRuntime(ctx, RuntimeConfig{MemoryLimitPages: 1024, Trusted: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.Compile(ctx, "text", readWasm(t, "text"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(ctx, mod, EngineConfig{Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	d, err := e.Open(ctx, []byte(`""`))
	if err != nil {
		t.Fatal(err)
	}
	var applied [][]byte
	for i := 0; i < 25000; i++ {
		concurrent := applied[len(applied)-i%100:]
		out, err := d.Apply(ctx, []byte(`["x"]`), concurrent, wasm.SideLeft)
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		if i%100 == 0 { // as the server does for its snapshot policy
			if _, err := d.Snapshot(ctx); err != nil {
				t.Fatalf("snapshot at op %d: %v", i, err)
			}
		}
		applied = append(applied, out)
		if len(applied) > 1000 {
			applied = append(applied[:0:0], applied[len(applied)-100:]...)
		}
	}
}
