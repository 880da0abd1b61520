package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// Run runs the conformance suite. newProvider must return a fresh, empty, configured provider for
// each subtest; Run closes it when the subtest ends.
func Run(t *testing.T, newProvider func(t *testing.T) storage.Provider) {
	tests := []struct {
		name string
		fn   func(t *testing.T, p storage.Provider)
	}{
		{"CreateWithZero", testCreateWithZero},
		{"ExpectedRevision", testExpectedRevision},
		{"ConcurrentAppenders", testConcurrentAppenders},
		{"BatchOneConflicts", testBatchOneConflicts},
		{"AllOrNothing", testAllOrNothing},
		{"Fencing", testFencing},
		{"InvalidAppends", testInvalidAppends},
		{"ReadOpsRanges", testReadOpsRanges},
		{"Snapshots", testSnapshots},
		{"Delete", testDelete},
		{"ListPaging", testListPaging},
		{"TenantsAreSeparate", testTenantsAreSeparate},
		{"UnicodeIDs", testUnicodeIDs},
		{"LargeOps", testLargeOps},
		{"LoadMissing", testLoadMissing},
		{"Health", testHealth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t)
			t.Cleanup(func() {
				if err := p.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, p)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Ops returns n ops with revisions from, from+1, ... and size bytes of data each (at least a
// small JSON payload). Benchmarks and provider tests use it too.
func Ops(from int64, n, size int) []storage.Op {
	ops := make([]storage.Op, n)
	for i := range ops {
		rev := from + int64(i)
		data := []byte(fmt.Sprintf(`{"op":"insert","rev":%d}`, rev))
		if size > len(data) {
			pad := bytes.Repeat([]byte{byte('a' + rev%26)}, size-len(data))
			data = append(data, pad...)
		}
		ops[i] = storage.Op{
			Revision:   rev,
			ClientID:   fmt.Sprintf("client-%d", rev%3),
			Seq:        uint64(rev * 10),
			Data:       data,
			UnixMillis: 1_700_000_000_000 + rev,
		}
	}
	return ops
}

func appendOne(t *testing.T, p storage.Provider, a storage.Append) storage.AppendResult {
	t.Helper()
	resp, err := p.Append(ctx(t), &storage.AppendRequest{Appends: []storage.Append{a}})
	if err != nil {
		t.Fatalf("append %s: %v", a.Doc, err)
	}
	if len(resp.Results) != 1 {
		t.Fatalf("append %s: %d results, want 1", a.Doc, len(resp.Results))
	}
	return resp.Results[0]
}

func mustAppend(t *testing.T, p storage.Provider, doc storage.DocKey, expected int64, epoch uint64, n int) {
	t.Helper()
	res := appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: expected, Epoch: epoch, Ops: Ops(expected+1, n, 0)})
	if res.Err != nil {
		t.Fatalf("append %s at %d: %v", doc, expected, res.Err)
	}
	if want := expected + int64(n); res.Revision != want {
		t.Fatalf("append %s: revision %d, want %d", doc, res.Revision, want)
	}
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: error %v, want %v", what, got, want)
	}
}

func readAll(t *testing.T, p storage.Provider, doc storage.DocKey) []storage.Op {
	t.Helper()
	var all []storage.Op
	from := int64(1)
	for {
		resp, err := p.ReadOps(ctx(t), &storage.ReadOpsRequest{Doc: doc, From: from, Limit: 1000})
		if err != nil {
			t.Fatalf("read ops %s from %d: %v", doc, from, err)
		}
		if len(resp.Ops) == 0 {
			return all
		}
		all = append(all, resp.Ops...)
		from = resp.Ops[len(resp.Ops)-1].Revision + 1
	}
}

func sameOps(t *testing.T, got, want []storage.Op) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d ops, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Revision != w.Revision || g.ClientID != w.ClientID || g.Seq != w.Seq ||
			g.UnixMillis != w.UnixMillis || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("op %d: got rev=%d client=%q seq=%d ts=%d len=%d, want rev=%d client=%q seq=%d ts=%d len=%d",
				i, g.Revision, g.ClientID, g.Seq, g.UnixMillis, len(g.Data), w.Revision, w.ClientID, w.Seq, w.UnixMillis, len(w.Data))
		}
	}
}

func load(t *testing.T, p storage.Provider, doc storage.DocKey) *storage.LoadResponse {
	t.Helper()
	resp, err := p.Load(ctx(t), doc)
	if err != nil {
		t.Fatalf("load %s: %v", doc, err)
	}
	return resp
}

func testCreateWithZero(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "doc-1"}
	ops := Ops(1, 3, 0)
	res := appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: 0, Epoch: 2, Ops: ops})
	if res.Err != nil || res.Revision != 3 {
		t.Fatalf("create: %+v, want revision 3 and no error", res)
	}
	got := load(t, p, doc)
	want := storage.DocInfo{Doc: doc, Type: "text", Revision: 3, Epoch: 2}
	if got.Info != want {
		t.Fatalf("load: info %+v, want %+v", got.Info, want)
	}
	if got.Snapshot != nil {
		t.Fatalf("load: snapshot %+v, want none", got.Snapshot)
	}
	sameOps(t, readAll(t, p, doc), ops)
}

func testExpectedRevision(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "doc"}
	mustAppend(t, p, doc, 0, 1, 3)
	mustAppend(t, p, doc, 3, 1, 2)

	tests := []struct {
		name     string
		doc      storage.DocKey
		expected int64
		wantRev  int64
	}{
		{"stale", doc, 3, 5},
		{"ahead", doc, 9, 5},
		{"create existing", doc, 0, 5},
		{"missing doc", storage.DocKey{Tenant: "acme", ID: "nope"}, 4, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := appendOne(t, p, storage.Append{Doc: tc.doc, Type: "text", ExpectedRevision: tc.expected, Epoch: 1, Ops: Ops(tc.expected+1, 1, 0)})
			wantErr(t, "append", res.Err, storage.ErrConflict)
			if res.Revision != tc.wantRev {
				t.Errorf("conflict revision %d, want %d", res.Revision, tc.wantRev)
			}
		})
	}
	if got := load(t, p, doc).Info.Revision; got != 5 {
		t.Fatalf("revision after conflicts %d, want 5", got)
	}
	if n := len(readAll(t, p, doc)); n != 5 {
		t.Fatalf("%d ops after conflicts, want 5", n)
	}
	if _, err := p.Load(ctx(t), storage.DocKey{Tenant: "acme", ID: "nope"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("conflicting create left a document behind: %v", err)
	}
}

func testConcurrentAppenders(t *testing.T, p storage.Provider) {
	const racers, rounds = 8, 5
	doc := storage.DocKey{Tenant: "acme", ID: "contended"}
	for round := range rounds {
		expected := int64(round)
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			wins      int
			conflicts int
			other     []error
		)
		start := make(chan struct{})
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				op := Ops(expected+1, 1, 0)
				op[0].ClientID = fmt.Sprintf("racer-%d", i)
				resp, err := p.Append(ctx(t), &storage.AppendRequest{Appends: []storage.Append{
					{Doc: doc, Type: "text", ExpectedRevision: expected, Epoch: 1, Ops: op},
				}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					other = append(other, err)
				case resp.Results[0].Err == nil:
					wins++
				case errors.Is(resp.Results[0].Err, storage.ErrConflict):
					conflicts++
				default:
					other = append(other, resp.Results[0].Err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || conflicts != racers-1 || len(other) > 0 {
			t.Fatalf("round %d: %d wins, %d conflicts, other errors %v; want 1 win, %d conflicts", round, wins, conflicts, other, racers-1)
		}
	}
	if n := len(readAll(t, p, doc)); n != rounds {
		t.Fatalf("%d ops stored, want %d", n, rounds)
	}
}

func testBatchOneConflicts(t *testing.T, p storage.Provider) {
	a := storage.DocKey{Tenant: "acme", ID: "a"}
	b := storage.DocKey{Tenant: "acme", ID: "b"}
	c := storage.DocKey{Tenant: "acme", ID: "c"}
	mustAppend(t, p, a, 0, 1, 2)
	resp, err := p.Append(ctx(t), &storage.AppendRequest{Appends: []storage.Append{
		{Doc: a, Type: "text", ExpectedRevision: 1, Epoch: 1, Ops: Ops(2, 1, 0)}, // stale
		{Doc: b, Type: "text", ExpectedRevision: 0, Epoch: 1, Ops: Ops(1, 2, 0)}, // create
		{Doc: c, Type: "text", ExpectedRevision: 0, Epoch: 1, Ops: Ops(2, 1, 0)}, // invalid
		{Doc: a, Type: "text", ExpectedRevision: 2, Epoch: 1, Ops: Ops(3, 1, 0)}, // same doc twice
	}})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if len(resp.Results) != 4 {
		t.Fatalf("%d results, want 4", len(resp.Results))
	}
	wantErr(t, "stale append to a", resp.Results[0].Err, storage.ErrConflict)
	if resp.Results[0].Revision != 2 {
		t.Errorf("conflict revision %d, want 2", resp.Results[0].Revision)
	}
	if resp.Results[1].Err != nil || resp.Results[1].Revision != 2 {
		t.Fatalf("create b: %+v, want revision 2", resp.Results[1])
	}
	wantErr(t, "invalid append to c", resp.Results[2].Err, storage.ErrInvalid)
	wantErr(t, "second append to a", resp.Results[3].Err, storage.ErrInvalid)
	sameOps(t, readAll(t, p, b), Ops(1, 2, 0))
	if n := len(readAll(t, p, a)); n != 2 {
		t.Fatalf("a has %d ops, want 2", n)
	}
	if _, err := p.Load(ctx(t), c); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("load c: %v, want ErrNotFound", err)
	}
}

func testAllOrNothing(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "atomic"}
	mustAppend(t, p, doc, 0, 1, 2)
	ops := Ops(3, 5, 0)
	ops[3].Revision = 99 // a gap in the middle: nothing of this append may land
	res := appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: 2, Epoch: 1, Ops: ops})
	wantErr(t, "append with a gap", res.Err, storage.ErrInvalid)
	if n := len(readAll(t, p, doc)); n != 2 {
		t.Fatalf("%d ops after a refused append, want 2", n)
	}
	// A batch of several ops lands whole.
	mustAppend(t, p, doc, 2, 1, 5)
	sameOps(t, readAll(t, p, doc)[2:], Ops(3, 5, 0))
}

func testFencing(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "fenced"}
	mustAppend(t, p, doc, 0, 5, 1)

	res := appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: 1, Epoch: 4, Ops: Ops(2, 1, 0)})
	wantErr(t, "lower epoch", res.Err, storage.ErrFenced)
	if got := load(t, p, doc).Info; got.Revision != 1 || got.Epoch != 5 {
		t.Fatalf("after fenced append: %+v, want revision 1 epoch 5", got)
	}
	// A lower epoch is fenced even when its expected revision is also wrong.
	res = appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: 0, Epoch: 1, Ops: Ops(1, 1, 0)})
	wantErr(t, "lower epoch and stale revision", res.Err, storage.ErrFenced)

	mustAppend(t, p, doc, 1, 5, 1) // equal epoch
	mustAppend(t, p, doc, 2, 7, 1) // higher epoch takes over
	if got := load(t, p, doc).Info.Epoch; got != 7 {
		t.Fatalf("epoch %d, want 7", got)
	}
	res = appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: 3, Epoch: 6, Ops: Ops(4, 1, 0)})
	wantErr(t, "old owner after takeover", res.Err, storage.ErrFenced)
	if n := len(readAll(t, p, doc)); n != 3 {
		t.Fatalf("%d ops, want 3", n)
	}
}

func testInvalidAppends(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "inv"}
	mustAppend(t, p, doc, 0, 1, 2)
	gap := Ops(3, 3, 0)
	gap[1].Revision = 5
	tests := []struct {
		name string
		a    storage.Append
	}{
		{"starts too high", storage.Append{Doc: doc, ExpectedRevision: 2, Ops: Ops(4, 2, 0)}},
		{"starts too low", storage.Append{Doc: doc, ExpectedRevision: 2, Ops: Ops(2, 2, 0)}},
		{"gap", storage.Append{Doc: doc, ExpectedRevision: 2, Ops: gap}},
		{"no ops", storage.Append{Doc: doc, ExpectedRevision: 2}},
		{"empty id", storage.Append{Doc: storage.DocKey{Tenant: "acme"}, ExpectedRevision: 0, Ops: Ops(1, 1, 0)}},
		{"negative expected", storage.Append{Doc: doc, ExpectedRevision: -1, Ops: Ops(0, 1, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.a.Type, tc.a.Epoch = "text", 1
			wantErr(t, "append", appendOne(t, p, tc.a).Err, storage.ErrInvalid)
		})
	}
	if n := len(readAll(t, p, doc)); n != 2 {
		t.Fatalf("%d ops after invalid appends, want 2", n)
	}
}

func testReadOpsRanges(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "log"}
	all := Ops(1, 10, 0)
	if res := appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: 0, Epoch: 1, Ops: all}); res.Err != nil {
		t.Fatalf("append: %v", res.Err)
	}
	tests := []struct {
		name  string
		doc   storage.DocKey
		from  int64
		limit int
		want  []storage.Op
	}{
		{"from start", doc, 1, 100, all},
		{"from start exact limit", doc, 1, 10, all},
		{"limit", doc, 1, 4, all[:4]},
		{"middle", doc, 5, 3, all[4:7]},
		{"last", doc, 10, 5, all[9:]},
		{"just past the end", doc, 11, 5, nil},
		{"far past the end", doc, 1000, 5, nil},
		{"zero limit means a full page", doc, 3, 0, all[2:]},
		{"missing doc", storage.DocKey{Tenant: "acme", ID: "missing"}, 1, 10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := p.ReadOps(ctx(t), &storage.ReadOpsRequest{Doc: tc.doc, From: tc.from, Limit: tc.limit})
			if err != nil {
				t.Fatalf("read ops: %v", err)
			}
			sameOps(t, resp.Ops, tc.want)
		})
	}
	t.Run("from zero", func(t *testing.T) {
		_, err := p.ReadOps(ctx(t), &storage.ReadOpsRequest{Doc: doc, From: 0, Limit: 5})
		wantErr(t, "read ops from 0", err, storage.ErrInvalid)
	})
}

func testSnapshots(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "snap"}
	wantErr(t, "snapshot of a missing doc", p.PutSnapshot(ctx(t), doc, storage.Snapshot{Revision: 1, Type: "text", Data: []byte("x")}), storage.ErrNotFound)
	mustAppend(t, p, doc, 0, 1, 5)

	put := func(rev int64, data string) {
		t.Helper()
		s := storage.Snapshot{Revision: rev, Type: "text", Data: []byte(data), Meta: []byte(`{"dedup":{}}`), UnixMillis: 1000 + rev}
		if err := p.PutSnapshot(ctx(t), doc, s); err != nil {
			t.Fatalf("put snapshot %d: %v", rev, err)
		}
	}
	check := func(rev int64, data string) {
		t.Helper()
		got := load(t, p, doc)
		if got.Snapshot == nil {
			t.Fatalf("no snapshot, want revision %d", rev)
		}
		s := got.Snapshot
		if s.Revision != rev || string(s.Data) != data || s.Type != "text" || string(s.Meta) != `{"dedup":{}}` || s.UnixMillis != 1000+rev {
			t.Fatalf("snapshot %+v, want revision %d data %q", s, rev, data)
		}
		if got.Info.SnapshotRevision != rev || got.Info.Revision != 5 {
			t.Fatalf("info %+v, want revision 5 snapshot revision %d", got.Info, rev)
		}
	}
	put(3, "three")
	check(3, "three")
	put(2, "two") // older: ignored
	check(3, "three")
	put(3, "three again") // same revision: upsert
	check(3, "three again")
	put(5, "five")
	check(5, "five")
	err := p.PutSnapshot(ctx(t), doc, storage.Snapshot{Revision: 6, Type: "text", Data: []byte("ahead")})
	wantErr(t, "snapshot ahead of the log", err, storage.ErrInvalid)
	check(5, "five")
}

func testDelete(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "gone"}
	keep := storage.DocKey{Tenant: "acme", ID: "kept"}
	mustAppend(t, p, doc, 0, 3, 4)
	mustAppend(t, p, keep, 0, 1, 1)
	if err := p.PutSnapshot(ctx(t), doc, storage.Snapshot{Revision: 4, Type: "text", Data: []byte("s")}); err != nil {
		t.Fatalf("put snapshot: %v", err)
	}
	if err := p.Delete(ctx(t), doc); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := p.Load(ctx(t), doc); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("load after delete: %v, want ErrNotFound", err)
	}
	if n := len(readAll(t, p, doc)); n != 0 {
		t.Fatalf("%d ops after delete, want 0", n)
	}
	if err := p.Delete(ctx(t), doc); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	mustAppend(t, p, doc, 0, 1, 1) // recreated from scratch, epoch reset with it
	if got := load(t, p, doc); got.Snapshot != nil || got.Info.Revision != 1 {
		t.Fatalf("recreated doc: %+v", got)
	}
	if got := load(t, p, keep).Info.Revision; got != 1 {
		t.Fatalf("other doc revision %d, want 1", got)
	}
}

func testListPaging(t *testing.T, p storage.Provider) {
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("doc-%02d", i)
		want = append(want, id)
		mustAppend(t, p, storage.DocKey{Tenant: "t1", ID: id}, 0, 1, 1+i%3)
	}
	for i := range 5 {
		mustAppend(t, p, storage.DocKey{Tenant: "t2", ID: fmt.Sprintf("doc-%02d", i)}, 0, 1, 1)
		mustAppend(t, p, storage.DocKey{Tenant: "t0", ID: fmt.Sprintf("zzz-%02d", i)}, 0, 1, 1)
	}
	var got []string
	after, pages := "", 0
	for {
		resp, err := p.List(ctx(t), &storage.ListRequest{Tenant: "t1", After: after, Limit: 10})
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		pages++
		for _, d := range resp.Docs {
			if d.Doc.Tenant != "t1" {
				t.Fatalf("list t1 returned %s", d.Doc)
			}
			var n int
			if _, err := fmt.Sscanf(d.Doc.ID, "doc-%d", &n); err != nil || d.Revision != int64(1+n%3) || d.Type != "text" || d.Epoch != 1 {
				t.Fatalf("list entry %+v", d)
			}
			got = append(got, d.Doc.ID)
		}
		if len(resp.Docs) < 10 {
			break
		}
		after = resp.Docs[len(resp.Docs)-1].Doc.ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Fatalf("listed %v in %d pages, want %v in 3", got, pages, want)
	}
	resp, err := p.List(ctx(t), &storage.ListRequest{Tenant: "nobody", Limit: 10})
	if err != nil || len(resp.Docs) != 0 {
		t.Fatalf("list of an empty tenant: %v, %v", resp, err)
	}
}

func testTenantsAreSeparate(t *testing.T, p storage.Provider) {
	a := storage.DocKey{Tenant: "one", ID: "same"}
	b := storage.DocKey{Tenant: "two", ID: "same"}
	mustAppend(t, p, a, 0, 1, 3)
	mustAppend(t, p, b, 0, 9, 1)
	if got := load(t, p, a).Info; got.Revision != 3 || got.Epoch != 1 {
		t.Fatalf("tenant one: %+v", got)
	}
	if got := load(t, p, b).Info; got.Revision != 1 || got.Epoch != 9 {
		t.Fatalf("tenant two: %+v", got)
	}
	if err := p.Delete(ctx(t), a); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if n := len(readAll(t, p, b)); n != 1 {
		t.Fatalf("tenant two has %d ops after deleting tenant one's doc, want 1", n)
	}
}

func testUnicodeIDs(t *testing.T, p storage.Provider) {
	keys := []storage.DocKey{
		{Tenant: "société", ID: "документ/1"},
		{Tenant: "société", ID: "文档 ✓"},
		{Tenant: "société", ID: "🎉 party % _ ' \" ;--"},
		{Tenant: "", ID: "no tenant"},
	}
	for _, k := range keys {
		mustAppend(t, p, k, 0, 1, 2)
		if got := load(t, p, k).Info.Doc; got != k {
			t.Fatalf("load %q: doc %q", k, got)
		}
		sameOps(t, readAll(t, p, k), Ops(1, 2, 0))
	}
	resp, err := p.List(ctx(t), &storage.ListRequest{Tenant: "société", Limit: 10})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(resp.Docs) != 3 {
		t.Fatalf("listed %d docs, want 3", len(resp.Docs))
	}
}

func testLargeOps(t *testing.T, p storage.Provider) {
	doc := storage.DocKey{Tenant: "acme", ID: "large"}
	ops := Ops(1, 3, 1<<20)
	if res := appendOne(t, p, storage.Append{Doc: doc, Type: "text", ExpectedRevision: 0, Epoch: 1, Ops: ops}); res.Err != nil {
		t.Fatalf("append: %v", res.Err)
	}
	sameOps(t, readAll(t, p, doc), ops)
	snap := storage.Snapshot{Revision: 3, Type: "text", Data: bytes.Repeat([]byte("s"), 1<<20)}
	if err := p.PutSnapshot(ctx(t), doc, snap); err != nil {
		t.Fatalf("put snapshot: %v", err)
	}
	if got := load(t, p, doc).Snapshot; got == nil || !bytes.Equal(got.Data, snap.Data) {
		t.Fatalf("large snapshot did not round-trip")
	}
}

func testLoadMissing(t *testing.T, p storage.Provider) {
	_, err := p.Load(ctx(t), storage.DocKey{Tenant: "acme", ID: "never"})
	wantErr(t, "load missing", err, storage.ErrNotFound)
	resp, err := p.ReadOps(ctx(t), &storage.ReadOpsRequest{Doc: storage.DocKey{Tenant: "acme", ID: "never"}, From: 1, Limit: 10})
	if err != nil || len(resp.Ops) != 0 {
		t.Fatalf("read ops of missing doc: %v, %v", resp, err)
	}
	if err := p.Delete(ctx(t), storage.DocKey{Tenant: "acme", ID: "never"}); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
}

func testHealth(t *testing.T, p storage.Provider) {
	if err := p.Health(ctx(t)); err != nil {
		t.Fatalf("health: %v", err)
	}
}

// AppendInOrder keeps n single-op appends to one document in flight at once through
// AppendAsync and checks that each succeeds with the next revision, answered in call order.
func AppendInOrder(t *testing.T, p storage.AsyncAppender, doc storage.DocKey, n int) {
	t.Helper()
	results := make(chan int64, n)
	for i := range int64(n) {
		p.AppendAsync(ctx(t), &storage.AppendRequest{Appends: []storage.Append{{Doc: doc, Type: "text", ExpectedRevision: i, Epoch: 1,
			Ops: []storage.Op{{Revision: i + 1, ClientID: "c", Seq: uint64(i + 1), Data: []byte(`1`)}}}}},
			func(resp *storage.AppendResponse, err error) {
				if err != nil || resp.Results[0].Err != nil {
					t.Errorf("append %d: %v %+v", i, err, resp)
					results <- -1
					return
				}
				results <- resp.Results[0].Revision
			})
	}
	for i := range int64(n) {
		if got := <-results; got != i+1 {
			t.Fatalf("answer %d: revision %d", i, got)
		}
	}
}
