package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/plugins/transforms/table"
	"github.com/opstream/opstream/plugins/transforms/tree"
)

// replica is a client's local copy of a CRDT document: it applies its own ops at once
// (optimistically) and everyone else's as they come, in whatever order that is.
type replica interface {
	apply(op []byte) error
	snapshot() []byte
	// edit makes a random op on the local state, stamped (ts, peer).
	edit(r *rand.Rand, ts int64, peer string, n int) []byte
}

type treeReplica struct{ d *tree.Doc }

func (t *treeReplica) apply(b []byte) error {
	op, err := tree.ParseOp(b)
	if err != nil {
		return fmt.Errorf("parse tree op: %w", err)
	}
	return t.d.Apply(op)
}

func (t *treeReplica) snapshot() []byte { return t.d.AppendSnapshot(nil) }

// edit mostly moves nodes around (into each other's subtrees, which concurrent moves turn into
// would-be cycles), creates some, deletes a few, updates payloads.
func (t *treeReplica) edit(r *rand.Rand, ts int64, peer string, n int) []byte {
	nodes := t.d.Tree()
	var ids []string
	for id := range nodes {
		if id != tree.Root {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	parents := append([]string{tree.Root}, ids...)
	key := fmt.Sprintf("k%d", r.IntN(5))
	switch k := r.IntN(20); {
	case len(ids) < 3 || k < 6:
		return fmt.Appendf(nil, `{"op":"create","id":"%s-%d","parent":%q,"key":%q,"payload":{"n":%d},"ts":%d,"peer":%q}`,
			peer, n, parents[r.IntN(len(parents))], key, n, ts, peer)
	case k < 15:
		id, parent := ids[r.IntN(len(ids))], parents[r.IntN(len(parents))]
		if id == parent {
			parent = tree.Root
		}
		return fmt.Appendf(nil, `{"op":"move","id":%q,"parent":%q,"key":%q,"ts":%d,"peer":%q}`, id, parent, key, ts, peer)
	case k < 16:
		return fmt.Appendf(nil, `{"op":"delete","id":%q,"ts":%d,"peer":%q}`, ids[r.IntN(len(ids))], ts, peer)
	default:
		return fmt.Appendf(nil, `{"op":"update","id":%q,"payload":{"by":%q,"n":%d},"ts":%d,"peer":%q}`, ids[r.IntN(len(ids))], peer, n, ts, peer)
	}
}

type tableReplica struct{ d *table.Doc }

func (t *tableReplica) apply(b []byte) error {
	op, err := table.ParseOp(b)
	if err != nil {
		return fmt.Errorf("parse table op: %w", err)
	}
	return t.d.Apply(op)
}

func (t *tableReplica) snapshot() []byte { return t.d.AppendSnapshot(nil) }

// edit mostly sets cells of a few shared rows (row r1 included, which peer c0 deletes midway),
// and inserts, moves and deletes rows and columns now and then.
func (t *tableReplica) edit(r *rand.Rand, ts int64, peer string, n int) []byte {
	if peer == "c0" && n == 20 {
		return fmt.Appendf(nil, `{"op":"delete_row","id":"r1","ts":%d,"peer":%q}`, ts, peer)
	}
	row, col := fmt.Sprintf("r%d", r.IntN(4)), fmt.Sprintf("col%d", r.IntN(3))
	switch k := r.IntN(30); {
	case k < 2:
		return fmt.Appendf(nil, `{"op":"insert_row","id":"%s-%d","key":"k%d","ts":%d,"peer":%q}`, peer, n, r.IntN(9), ts, peer)
	case k < 3:
		return fmt.Appendf(nil, `{"op":"insert_row","id":%q,"key":"k%d","ts":%d,"peer":%q}`, row, r.IntN(9), ts, peer)
	case k < 4:
		return fmt.Appendf(nil, `{"op":"insert_column","id":"%s-%d","key":"k%d","ts":%d,"peer":%q}`, peer, n, r.IntN(9), ts, peer)
	case k < 5 && n > 10:
		if g := t.d.Grid(); len(g.Columns) > 3 {
			return fmt.Appendf(nil, `{"op":"delete_column","id":%q,"ts":%d,"peer":%q}`, g.Columns[len(g.Columns)-1], ts, peer)
		}
	}
	return fmt.Appendf(nil, `{"op":"set_cell","row":%q,"col":%q,"value":{"by":%q,"n":%d},"ts":%d,"peer":%q}`, row, col, peer, n, ts, peer)
}

// crdtClient edits one document over its own WebSocket connection: one op in flight, later
// edits queued (CRDT ops do not compose), remote ops applied as they come.
type crdtClient struct {
	t       *testing.T
	name    string
	doc     *client.Doc
	rep     replica
	rnd     *rand.Rand
	clock   int64 // Lamport clock: above every stamp seen
	rev     int64
	queue   [][]byte
	waiting bool // an op is in flight
	made    int
	crossed int // remote ops that arrived while an own op was unacknowledged: real concurrency
}

func (c *crdtClient) observe(op []byte) {
	var s struct{ TS int64 }
	if err := json.Unmarshal(op, &s); err != nil {
		c.t.Errorf("%s: op %s: %v", c.name, op, err)
	}
	c.clock = max(c.clock, s.TS)
}

func (c *crdtClient) edit() {
	c.clock++
	op := c.rep.edit(c.rnd, c.clock, c.name, c.made)
	c.made++
	if err := c.rep.apply(op); err != nil {
		c.t.Errorf("%s: local apply %s: %v", c.name, op, err)
	}
	c.queue = append(c.queue, op)
	c.flush()
}

func (c *crdtClient) flush() {
	if c.waiting || len(c.queue) == 0 {
		return
	}
	if _, err := c.doc.SubmitAsync(c.queue[0], c.rev); err != nil {
		c.t.Errorf("%s: submit: %v", c.name, err)
	}
	c.queue, c.waiting = c.queue[1:], true
}

func (c *crdtClient) onEvent(ev client.Event) {
	switch ev.Kind {
	case client.EventAck:
		c.rev, c.waiting = ev.Revision, false
		c.flush()
	case client.EventOp:
		if c.waiting || len(c.queue) > 0 {
			c.crossed++
		}
		c.observe(ev.Op)
		if err := c.rep.apply(ev.Op); err != nil {
			c.t.Errorf("%s: remote op %s: %v", c.name, ev.Op, err)
		}
		c.rev = ev.Revision
	case client.EventReject:
		c.t.Errorf("%s: op rejected: %v", c.name, ev.Err)
	case client.EventReload:
		c.t.Errorf("%s: unexpected reload", c.name)
	}
}

// TestTreeAndTableCRDTsConverge: for each of the tree and table engines, three real WebSocket
// clients edit one document concurrently through the server binary (moves into each other's
// subtrees, deletes of what others edit, concurrent edits of one cell, a row deleted while the
// others write its cells), each applying its own ops at once and the others' as they arrive.
// All end with byte-identical snapshots equal to the server's (GET /v1/docs/{id}) and to a
// replay of the server's op log; a malformed op is refused with InvalidOp before it is ordered.
func TestTreeAndTableCRDTsConverge(t *testing.T) {
	plugins, _ := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins"))
	s := startServer(t, "", "--snapshot-every", "25", "--config", writeConfig(t, fmt.Sprintf(`plugins:
  engines:
    tree: {module: %s/tree.wasm}
    table: {module: %s/table.wasm}
`, plugins, plugins)))
	for _, eng := range []struct {
		docType string
		open    func(snapshot []byte) (replica, error)
		check   func(t *testing.T, snapshot []byte)
	}{
		{"tree", func(b []byte) (replica, error) {
			d, err := tree.ParseSnapshot(b)
			return &treeReplica{d}, err
		}, func(t *testing.T, snap []byte) {
			var v struct{ Nodes []struct{ Live bool } }
			if err := json.Unmarshal(snap, &v); err != nil {
				t.Fatal(err)
			}
			live := 0
			for _, n := range v.Nodes {
				if n.Live {
					live++
				}
			}
			t.Logf("tree: %d nodes, %d in the tree", len(v.Nodes), live)
			if live == 0 {
				t.Fatalf("no live nodes: %s", snap)
			}
		}},
		{"table", func(b []byte) (replica, error) {
			d, err := table.ParseSnapshot(b)
			return &tableReplica{d}, err
		}, func(t *testing.T, snap []byte) {
			var v struct {
				Rows        []struct{ ID string }
				DeletedRows []string
				Cells       []struct{ Row string }
			}
			if err := json.Unmarshal(snap, &v); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(v.DeletedRows, "r1") {
				t.Fatalf("r1 not deleted: %s", snap)
			}
			for _, c := range v.Cells {
				if c.Row == "r1" {
					t.Fatalf("a cell of the deleted row r1 survived: %s", snap)
				}
			}
			t.Logf("table: %d rows, %d cells", len(v.Rows), len(v.Cells))
			if len(v.Cells) == 0 {
				t.Fatalf("no cells: %s", snap)
			}
		}},
	} {
		t.Run(eng.docType, func(t *testing.T) {
			docID := "crdt-" + eng.docType
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			// The shared rows and columns the table clients write into.
			if eng.docType == "table" {
				for i, op := range []string{
					`{"op":"insert_row","id":"r0","key":"a","ts":1,"peer":"init"}`, `{"op":"insert_row","id":"r1","key":"b","ts":1,"peer":"init"}`,
					`{"op":"insert_row","id":"r2","key":"c","ts":1,"peer":"init"}`, `{"op":"insert_row","id":"r3","key":"d","ts":1,"peer":"init"}`,
					`{"op":"insert_column","id":"col0","key":"a","ts":1,"peer":"init"}`, `{"op":"insert_column","id":"col1","key":"b","ts":1,"peer":"init"}`,
					`{"op":"insert_column","id":"col2","key":"c","ts":1,"peer":"init"}`,
				} {
					var r submitResp
					if code := httpJSON(t, "POST", s.url("/v1/docs/"+docID+"/ops"), fmt.Sprintf(`{"type":"table","baseRevision":%d,"op":%s,"clientId":"init","seq":%d}`, i, op, i+1), &r); code != 200 {
						t.Fatalf("init op %d: %d %+v", i, code, r.Error)
					}
				}
			}
			const clients, edits = 3, 60
			cs := make([]*crdtClient, clients)
			for i := range cs {
				conn, err := client.Dial(ctx, s.wsURL(), client.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				d, err := conn.Join(ctx, docID, eng.docType)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := eng.open(d.Snapshot())
				if err != nil {
					t.Fatalf("client %d: initial snapshot %s: %v", i, d.Snapshot(), err)
				}
				cs[i] = &crdtClient{t: t, name: fmt.Sprintf("c%d", i), doc: d, rep: rep, rnd: rand.New(rand.NewPCG(uint64(i), 42)),
					clock: 1, rev: d.SnapshotRevision()}
			}
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tick := time.NewTicker(2 * time.Millisecond)
					defer tick.Stop()
					for c.made < edits || c.waiting || len(c.queue) > 0 {
						select {
						case ev, ok := <-c.doc.Events():
							if !ok {
								t.Errorf("%s: events closed: %v", c.name, c.doc.Err())
								return
							}
							c.onEvent(ev)
						case <-tick.C:
							if c.made < edits && c.rnd.IntN(2) == 0 {
								c.edit()
							}
						case <-ctx.Done():
							t.Errorf("%s: timed out with %d made", c.name, c.made)
							return
						}
					}
				}()
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			_, d := getDoc(t, s, docID)
			for _, c := range cs {
				for c.rev < d.Revision {
					select {
					case ev := <-c.doc.Events():
						c.onEvent(ev)
					case <-ctx.Done():
						t.Fatalf("%s stuck at %d of %d", c.name, c.rev, d.Revision)
					}
				}
				if got := c.rep.snapshot(); string(got) != string(d.Snapshot) {
					t.Fatalf("%s diverged from the server:\n got %s\nwant %s", c.name, got, d.Snapshot)
				}
			}
			// The op log replays, in the server's order, to the same snapshot.
			ops := getOps(t, s, docID)
			replay, err := eng.open(map[string][]byte{"tree": []byte(tree.Empty), "table": []byte(table.Empty)}[eng.docType])
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range ops.Ops {
				if err := replay.apply(op.Op); err != nil {
					t.Fatalf("replay op %d %s: %v", op.Revision, op.Op, err)
				}
			}
			if got := replay.snapshot(); string(got) != string(d.Snapshot) || int64(len(ops.Ops)) != d.Revision {
				t.Fatalf("replay of %d ops:\n got %s\nwant %s", len(ops.Ops), got, d.Snapshot)
			}
			if want := int64(clients * edits); d.Revision < want {
				t.Fatalf("revision %d after %d edits", d.Revision, want)
			}
			crossed := 0
			for _, c := range cs {
				crossed += c.crossed
			}
			t.Logf("%s: %d ops, %d of them crossed an unacknowledged local op", eng.docType, d.Revision, crossed)
			if crossed < clients*edits/10 {
				t.Fatalf("only %d remote ops crossed a local one: the clients did not edit concurrently", crossed)
			}
			eng.check(t, d.Snapshot)
			// A malformed op is refused before it is ordered: the revision does not move.
			var r submitResp
			bad := `{"op":"move","id":"x","parent":"x","key":"a","ts":1,"peer":"p"}`
			if eng.docType == "table" {
				bad = `{"op":"set_cell","row":"r0","col":"col0","ts":1,"peer":"p"}`
			}
			if code := httpJSON(t, "POST", s.url("/v1/docs/"+docID+"/ops"), fmt.Sprintf(`{"type":%q,"baseRevision":%d,"op":%s,"clientId":"bad","seq":1}`, eng.docType, d.Revision, bad), &r); code != 400 || r.Error == nil || r.Error.Code != "InvalidOp" {
				t.Fatalf("malformed op: %d %+v", code, r.Error)
			}
			if _, d2 := getDoc(t, s, docID); d2.Revision != d.Revision {
				t.Fatalf("a refused op moved the revision from %d to %d", d.Revision, d2.Revision)
			}
		})
	}
}
