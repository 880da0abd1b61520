package redis

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/opstream/opstream/pluginsdk/storage"
)

func TestKeysInjective(t *testing.T) {
	t.Parallel()
	parts := []string{"", "a", "b", ":", "a:b", "b:c", "1:a", "1", "d:", ":h", "h", "x\x00y", "🎉"}
	seen := map[string]storage.DocKey{}
	for _, tenant := range parts {
		for _, id := range parts {
			k := storage.DocKey{Tenant: tenant, ID: id}
			keys := keysFor("p:", k)
			for _, key := range []string{keys.head, keys.ops, keys.snap} {
				if prev, dup := seen[key]; dup {
					t.Fatalf("%q and %q share key %q", prev, k, key)
				}
				seen[key] = k
			}
		}
		tk := tenantKey("p:", tenant)
		if prev, dup := seen[tk]; dup {
			t.Fatalf("tenant %q index key %q collides with %q", tenant, tk, prev)
		}
		seen[tk] = storage.DocKey{Tenant: tenant, ID: "(index)"}
	}
}

func TestOpRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []storage.Op{
		{Revision: 1},
		{Revision: 7, ClientID: "client", Seq: 1<<64 - 1, Data: []byte(`{"op":1}`), UnixMillis: -5},
		{Revision: 9, ClientID: "日本", Seq: 3, Data: bytes.Repeat([]byte{0}, 300), UnixMillis: 1_700_000_000_000},
	}
	for _, op := range tests {
		t.Run(fmt.Sprint(op.Revision), func(t *testing.T) {
			got, err := decodeOp(encodeOp(&op), op.Revision)
			if err != nil {
				t.Fatal(err)
			}
			if got.Revision != op.Revision || got.ClientID != op.ClientID || got.Seq != op.Seq ||
				got.UnixMillis != op.UnixMillis || !bytes.Equal(got.Data, op.Data) {
				t.Fatalf("round trip: %+v, want %+v", got, op)
			}
		})
	}
}

// FuzzDecodeOp feeds arbitrary stored bytes to the decoder: it must not panic, and what it
// accepts must encode back to the same bytes.
func FuzzDecodeOp(f *testing.F) {
	f.Add(encodeOp(&storage.Op{ClientID: "c", Seq: 5, Data: []byte("data"), UnixMillis: 9}))
	f.Add("")
	f.Add("\x01\xff\xff")
	f.Fuzz(func(t *testing.T, s string) {
		op, err := decodeOp(s, 1)
		if err != nil {
			return
		}
		if again := encodeOp(&op); again != s {
			// Non-minimal varints decode but re-encode shorter; that is fine if the op agrees.
			back, err := decodeOp(again, 1)
			if err != nil || back.ClientID != op.ClientID || back.Seq != op.Seq || back.UnixMillis != op.UnixMillis || !bytes.Equal(back.Data, op.Data) {
				t.Fatalf("re-encoding %q gave %q", s, again)
			}
		}
	})
}
