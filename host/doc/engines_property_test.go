package doc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/host/store"
	"github.com/opstream/opstream/internal/wasmtest"
	"github.com/opstream/opstream/plugins/storage/memory"
	"github.com/opstream/opstream/plugins/transforms/form"
	"github.com/opstream/opstream/plugins/transforms/json0"
	"github.com/opstream/opstream/plugins/transforms/jsoncrdt"
	"github.com/opstream/opstream/plugins/transforms/richtext"
	"github.com/opstream/opstream/plugins/transforms/table"
	"github.com/opstream/opstream/plugins/transforms/text"
	"github.com/opstream/opstream/plugins/transforms/tree"
	"github.com/opstream/opstream/pluginsdk/engine"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// This file is the convergence property of every shipped engine through the real host ordering
// path (issue 4, "How convergence is proven"): N peers make random ops on their own copies and
// submit them to a real document actor (Registry, committer, memory storage) running the real
// WASM module in wazero; the actor's broadcasts and acks reach each peer in the server's order,
// but at random moments, interleaved at random with the peers' own edits and sends. At the end
// every peer and the server hold byte-identical snapshots.
//
// OT peers (text, rich-text, json0) work like a ShareDB client and client/undo's Editor: one op
// in flight, later ops queued, a remote op transformed over them with the server's sides (the
// local op Left, the remote op Right) using the engine's native Go code: TP1 between the WASM
// engine's rebase and the Go transform. CRDT peers (form, json, tree, table) apply their own
// ops at once and remote ops as they come, re-apply random old ops (idempotent redelivery) and
// the server sees re-sent ops (deduplicated by client id and seq). counter's adds commute.

// model is a peer's native view of one engine.
type model struct {
	docType string
	module  string // Go guest package, or a file under bin/plugins
	init    string // first op, made before the peers join; "" for none
	// apply applies an op to a snapshot natively.
	apply func(snapshot, op []byte) ([]byte, error)
	// transform rebases op over other (OT engines; nil for the others).
	transform func(op, other []byte, side engine.Side) ([]byte, error)
	// randomOp returns a random op on snapshot, stamped with ts and peer where the engine
	// wants a stamp.
	randomOp func(r *rand.Rand, snapshot []byte, ts int64, peer string) ([]byte, error)
	// idempotent: applying an op twice is applying it once (CRDTs).
	idempotent bool
	// jsonEqual: snapshots are equal as JSON values, members in any order. json0 and rich-text
	// keep object members in insertion order, as JavaScript does, so replicas that applied the
	// same ops in different orders (a remote op transformed on a peer, rebased on the server)
	// may list an object's members differently; ShareDB compares them the same way.
	jsonEqual bool
}

// nativeCRDT returns the apply of a CRDT package: parse, apply, snapshot.
func nativeCRDT[O any, D interface {
	Apply(O) error
	AppendSnapshot([]byte) []byte
}](parseSnapshot func([]byte) (D, error), parseOp func([]byte) (O, error)) func(snapshot, op []byte) ([]byte, error) {
	return func(snapshot, op []byte) ([]byte, error) {
		d, err := parseSnapshot(snapshot)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		o, err := parseOp(op)
		if err != nil {
			return nil, fmt.Errorf("op: %w", err)
		}
		if err := d.Apply(o); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		return d.AppendSnapshot(nil), nil
	}
}

const insertChars = "abcxyz é中"

func randText(r *rand.Rand) string {
	cs := []rune(insertChars)
	var b strings.Builder
	for range 1 + r.IntN(4) {
		b.WriteRune(cs[r.IntN(len(cs))])
	}
	return b.String()
}

func models() []model {
	return []model{
		{
			docType: "text", module: "github.com/opstream/opstream/plugins/transforms/text/wasm",
			apply: text.Type().Apply, transform: text.Type().Transform,
			randomOp: func(r *rand.Rand, snap []byte, _ int64, _ string) ([]byte, error) {
				var s string
				if err := json.Unmarshal(snap, &s); err != nil {
					return nil, err
				}
				n := len([]rune(s))
				p := r.IntN(n + 1)
				var op []any
				if p > 0 {
					op = append(op, p)
				}
				if n-p > 0 && r.IntN(3) == 0 {
					op = append(op, map[string]int{"d": 1 + r.IntN(min(n-p, 4))})
				} else {
					op = append(op, randText(r))
				}
				return json.Marshal(op)
			},
		},
		{
			docType: "rich-text", module: "github.com/opstream/opstream/plugins/transforms/richtext/wasm",
			apply: richtext.Type().Apply, transform: richtext.Type().Transform, jsonEqual: true,
			randomOp: func(r *rand.Rand, snap []byte, _ int64, _ string) ([]byte, error) {
				d, err := richtext.ParseSnapshot(snap)
				if err != nil {
					return nil, err
				}
				n := int(d.Length())
				p := r.IntN(n + 1)
				var ops []map[string]any
				if p > 0 {
					ops = append(ops, map[string]any{"retain": p})
				}
				attrs := []map[string]any{nil, {"bold": true}, {"color": "red"}, {"bold": nil}, {"italic": true, "bold": nil}}
				switch k := r.IntN(5); {
				case n-p > 0 && k == 0:
					ops = append(ops, map[string]any{"delete": 1 + r.IntN(min(n-p, 4))})
				case n-p > 0 && k == 1:
					a := attrs[1+r.IntN(len(attrs)-1)]
					ops = append(ops, map[string]any{"retain": 1 + r.IntN(min(n-p, 6)), "attributes": a})
				default:
					c := map[string]any{"insert": randText(r)}
					if r.IntN(8) == 0 {
						c["insert"] = map[string]any{"image": "a.png"}
					}
					if a := attrs[r.IntN(3)]; a != nil {
						c["attributes"] = a
					}
					ops = append(ops, c)
				}
				return json.Marshal(map[string]any{"ops": ops})
			},
		},
		{
			docType: "json0", module: "github.com/opstream/opstream/plugins/transforms/json0/wasm",
			init:  `[{"p":[],"oi":{"list":[],"n":0,"obj":{},"s":""}}]`,
			apply: json0.Type().Apply, transform: json0.Type().Transform, jsonEqual: true,
			randomOp: randomJSON0,
		},
		{
			docType: "form", module: "github.com/opstream/opstream/plugins/transforms/form/wasm",
			apply: nativeCRDT(form.ParseSnapshot, form.ParseOp), idempotent: true,
			randomOp: func(r *rand.Rand, _ []byte, ts int64, peer string) ([]byte, error) {
				f := fmt.Sprint("f", r.IntN(5))
				if r.IntN(4) == 0 {
					return fmt.Appendf(nil, `{"del":[%q],"ts":%d,"peer":%q}`, f, ts, peer), nil
				}
				return fmt.Appendf(nil, `{"set":{%q:%s},"ts":%d,"peer":%q}`, f, randValue(r), ts, peer), nil
			},
		},
		{
			docType: "json", module: "github.com/opstream/opstream/plugins/transforms/jsoncrdt/wasm",
			apply: nativeCRDT(jsoncrdt.ParseSnapshot, jsoncrdt.ParseOp), idempotent: true,
			randomOp: func(r *rand.Rand, _ []byte, ts int64, peer string) ([]byte, error) {
				path := []string{[]string{"a", "b", "c"}[r.IntN(3)]}
				if r.IntN(2) == 0 {
					path = append(path, []string{"x", "y"}[r.IntN(2)])
				}
				p, _ := json.Marshal(path)
				if r.IntN(4) == 0 {
					return fmt.Appendf(nil, `{"del":%s,"ts":%d,"peer":%q}`, p, ts, peer), nil
				}
				return fmt.Appendf(nil, `{"set":[%s,%s],"ts":%d,"peer":%q}`, p, randValue(r), ts, peer), nil
			},
		},
		{
			docType: "tree", module: "github.com/opstream/opstream/plugins/transforms/tree/wasm",
			apply: nativeCRDT(tree.ParseSnapshot, tree.ParseOp), idempotent: true,
			randomOp: func(r *rand.Rand, _ []byte, ts int64, peer string) ([]byte, error) {
				id := fmt.Sprint("n", r.IntN(6))
				parent := "root"
				if k := r.IntN(7); k < 6 && fmt.Sprint("n", k) != id {
					parent = fmt.Sprint("n", k)
				}
				stamp := fmt.Sprintf(`"ts":%d,"peer":%q`, ts, peer)
				switch r.IntN(6) {
				case 0, 1:
					return fmt.Appendf(nil, `{"op":"create","id":%q,"parent":%q,"key":"k%d","payload":%s,%s}`, id, parent, r.IntN(4), randValue(r), stamp), nil
				case 2, 3:
					return fmt.Appendf(nil, `{"op":"move","id":%q,"parent":%q,"key":"k%d",%s}`, id, parent, r.IntN(4), stamp), nil
				case 4:
					return fmt.Appendf(nil, `{"op":"delete","id":%q,%s}`, id, stamp), nil
				}
				return fmt.Appendf(nil, `{"op":"update","id":%q,"payload":%s,%s}`, id, randValue(r), stamp), nil
			},
		},
		{
			docType: "table", module: "github.com/opstream/opstream/plugins/transforms/table/wasm",
			apply: nativeCRDT(table.ParseSnapshot, table.ParseOp), idempotent: true,
			randomOp: func(r *rand.Rand, _ []byte, ts int64, peer string) ([]byte, error) {
				row, col := fmt.Sprint("r", r.IntN(4)), fmt.Sprint("c", r.IntN(3))
				stamp := fmt.Sprintf(`"ts":%d,"peer":%q`, ts, peer)
				switch k := r.IntN(12); {
				case k < 2:
					return fmt.Appendf(nil, `{"op":"insert_row","id":%q,"key":"k%d",%s}`, row, r.IntN(4), stamp), nil
				case k < 4:
					return fmt.Appendf(nil, `{"op":"insert_column","id":%q,"key":"k%d",%s}`, col, r.IntN(4), stamp), nil
				case k < 5:
					return fmt.Appendf(nil, `{"op":"delete_row","id":%q,%s}`, row, stamp), nil
				case k < 6:
					return fmt.Appendf(nil, `{"op":"delete_column","id":%q,%s}`, col, stamp), nil
				}
				return fmt.Appendf(nil, `{"op":"set_cell","row":%q,"col":%q,"value":%s,%s}`, row, col, randValue(r), stamp), nil
			},
		},
		{
			docType: "counter", module: "counter.wasm",
			apply: func(snap, op []byte) ([]byte, error) {
				var n int64
				var o struct{ Add int64 }
				if err := json.Unmarshal(snap, &n); err != nil {
					return nil, err
				}
				if err := json.Unmarshal(op, &o); err != nil {
					return nil, err
				}
				return fmt.Append(nil, n+o.Add), nil
			},
			randomOp: func(r *rand.Rand, _ []byte, _ int64, _ string) ([]byte, error) {
				return fmt.Appendf(nil, `{"add":%d}`, r.IntN(21)-10), nil
			},
		},
	}
}

func randValue(r *rand.Rand) string {
	return []string{`1`, `"x"`, `null`, `{"a":[1,{"b":2}]}`, `true`, `"é"`, `-2.5`}[r.IntN(7)]
}

// randomJSON0 makes an op on the skeleton {"list": [...], "n": N, "obj": {...}, "s": "..."}.
func randomJSON0(r *rand.Rand, snap []byte, _ int64, _ string) ([]byte, error) {
	var d struct {
		List []json.RawMessage          `json:"list"`
		Obj  map[string]json.RawMessage `json:"obj"`
		S    string                     `json:"s"`
	}
	if err := json.Unmarshal(snap, &d); err != nil {
		return nil, err
	}
	var c map[string]any
	switch k := r.IntN(9); {
	case k == 0 && len(d.List) > 0:
		i := r.IntN(len(d.List))
		c = map[string]any{"p": []any{"list", i}, "ld": d.List[i]}
	case k == 1 && len(d.List) > 1:
		c = map[string]any{"p": []any{"list", r.IntN(len(d.List))}, "lm": r.IntN(len(d.List))}
	case k == 2:
		c = map[string]any{"p": []any{"n"}, "na": r.IntN(9) - 4}
	case k == 3:
		key := fmt.Sprint("k", r.IntN(4))
		c = map[string]any{"p": []any{"obj", key}, "oi": json.RawMessage(randValue(r))}
		if old, ok := d.Obj[key]; ok {
			c["od"] = old
		}
	case k == 4 && len(d.Obj) > 0:
		for key, old := range d.Obj {
			c = map[string]any{"p": []any{"obj", key}, "od": old}
			break
		}
	case k == 5:
		c = map[string]any{"p": []any{"s", r.IntN(len(d.S) + 1)}, "si": []string{"ab", "c", "xyz"}[r.IntN(3)]}
	case k == 6 && len(d.S) > 0:
		p := r.IntN(len(d.S))
		c = map[string]any{"p": []any{"s", p}, "sd": d.S[p : p+1+r.IntN(min(len(d.S)-p, 3))]}
	default:
		c = map[string]any{"p": []any{"list", r.IntN(len(d.List) + 1)}, "li": json.RawMessage(randValue(r))}
	}
	return json.Marshal([]any{c})
}

// hostEngines presents pluginhost engines as Engines, the way the server's adapter does.
type hostEngines map[string]*pluginhost.Engine

func (h hostEngines) Engine(docType string) (Engine, bool) {
	e, ok := h[docType]
	return hostEngine{e}, ok
}

type hostEngine struct{ e *pluginhost.Engine }

func (h hostEngine) Empty(ctx context.Context) ([]byte, error) { return h.e.Empty(ctx) }

func (h hostEngine) Open(ctx context.Context, snapshot []byte) (State, error) {
	d, err := h.e.Open(ctx, snapshot)
	if err != nil {
		return nil, err
	}
	return hostState{d}, nil
}

type hostState struct{ d *pluginhost.Doc }

func (s hostState) Apply(ctx context.Context, op []byte, concurrent [][]byte, side int32) ([]byte, error) {
	return s.d.Apply(ctx, op, concurrent, side)
}
func (s hostState) Snapshot(ctx context.Context) ([]byte, error) { return s.d.Snapshot(ctx) }
func (s hostState) Close(ctx context.Context)                    { _ = s.d.Close(ctx) }

// loadEngines compiles every engine's module into one runtime.
func loadEngines(t testing.TB, ms []model) hostEngines {
	t.Helper()
	ctx := context.Background()
	// A compilation cache across runs: without it, compiling the eight modules is most of
	// this test's time under -race.
	cache := filepath.Join(os.TempDir(), "opstream-engines-test-wazero")
	if ucd, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(ucd, "opstream", "engines-test-wazero")
	}
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{CacheDir: cache, Trusted: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(ctx) })
	_, file, _, _ := runtime.Caller(0)
	plugins := filepath.Join(filepath.Dir(file), "..", "..", "bin", "plugins")
	bins := make([][]byte, len(ms))
	start := time.Now()
	var wg sync.WaitGroup
	for i, m := range ms {
		if strings.HasSuffix(m.module, ".wasm") {
			b, err := os.ReadFile(filepath.Join(plugins, m.module))
			if err != nil {
				t.Fatalf("%s: run `make build` (AssemblyScript modules are built there): %v", m.module, err)
			}
			bins[i] = b
			continue
		}
		wg.Add(1)
		go func(i int, pkg string) {
			defer wg.Done()
			bins[i] = wasmtest.Build(t, pkg)
		}(i, m.module)
	}
	wg.Wait()
	t.Logf("modules built in %v", time.Since(start))
	es := hostEngines{}
	var mu sync.Mutex
	for i, m := range ms { // wazero compiles concurrently; under -race this is most of the time
		if bins[i] == nil {
			t.FailNow()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mod, err := rt.Compile(ctx, m.docType, bins[i])
			if err != nil {
				t.Errorf("compile %s: %v", m.docType, err)
				return
			}
			e, err := pluginhost.NewEngine(ctx, mod, pluginhost.EngineConfig{Instances: 1, CallTimeout: time.Minute})
			if err != nil {
				t.Errorf("engine %s: %v", m.docType, err)
				return
			}
			t.Cleanup(func() { _ = e.Close(ctx) })
			mu.Lock()
			es[m.docType] = e
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("modules built and compiled in %v", time.Since(start))
	return es
}

// propPeer is one peer: its copy of the document and what the server sent it, not yet read.
type propPeer struct {
	id    string
	m     model
	doc   []byte
	rev   int64
	clock int64 // Lamport clock for CRDT stamps

	inflight []byte
	seq      uint64
	queued   [][]byte
	sent     [][2]any // (seq, op) of every op sent, for re-sends
	applied  [][]byte // every op applied, for redelivery (CRDTs)

	mu    sync.Mutex
	inbox map[int64]inMsg // by revision
	errs  []error
}

type inMsg struct {
	op  []byte // nil: the ack of the op in flight
	ack bool
}

func (p *propPeer) ID() string { return p.id }

func (p *propPeer) Send(msg []byte) bool {
	var m struct {
		Type     string
		Revision int64
		Op       json.RawMessage
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := json.Unmarshal(msg, &m); err != nil {
		p.errs = append(p.errs, fmt.Errorf("peer %s: message %s: %w", p.id, msg, err))
		return true
	}
	if m.Type == "op" {
		p.inbox[m.Revision] = inMsg{op: m.Op}
	}
	return true
}

func (p *propPeer) Dropped(_ storage.DocKey, err *protocol.Error) {
	p.mu.Lock()
	p.errs = append(p.errs, fmt.Errorf("peer %s dropped: %w", p.id, err))
	p.mu.Unlock()
}

// next takes the message at the next revision, if it came.
func (p *propPeer) next() (inMsg, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.inbox[p.rev+1]
	if ok {
		delete(p.inbox, p.rev+1)
	}
	return m, ok
}

// receive folds in the next message; false when it has not come yet.
func (p *propPeer) receive() (bool, error) {
	m, ok := p.next()
	if !ok {
		return false, nil
	}
	p.rev++
	if m.ack {
		p.inflight = nil
		return true, nil
	}
	op := m.op
	if p.m.transform != nil {
		own := append([][]byte{}, p.queued...)
		if p.inflight != nil {
			own = append([][]byte{p.inflight}, own...)
		}
		for i, x := range own {
			var err error
			if own[i], err = p.m.transform(x, op, engine.Left); err != nil {
				return false, fmt.Errorf("transform own %s over %s: %w", x, op, err)
			}
			if op, err = p.m.transform(op, x, engine.Right); err != nil {
				return false, fmt.Errorf("transform %s over own %s: %w", op, x, err)
			}
		}
		if p.inflight != nil {
			p.inflight, own = own[0], own[1:]
		}
		copy(p.queued, own)
	}
	doc, err := p.m.apply(p.doc, op)
	if err != nil {
		return false, fmt.Errorf("peer %s: apply remote %s to %s: %w", p.id, op, p.doc, err)
	}
	p.doc = doc
	p.observe(m.op)
	return true, nil
}

// observe advances the Lamport clock past a CRDT op's stamp and keeps the op for redelivery.
func (p *propPeer) observe(op []byte) {
	if !p.m.idempotent {
		return
	}
	var s struct{ TS int64 }
	if json.Unmarshal(op, &s) == nil && s.TS > p.clock {
		p.clock = s.TS
	}
	p.applied = append(p.applied, op)
}

// edit makes a random own op and applies it.
func (p *propPeer) edit(r *rand.Rand) error {
	p.clock++
	op, err := p.m.randomOp(r, p.doc, p.clock, p.id)
	if err != nil {
		return fmt.Errorf("peer %s: random op on %s: %w", p.id, p.doc, err)
	}
	doc, err := p.m.apply(p.doc, op)
	if err != nil {
		return fmt.Errorf("peer %s: apply own %s to %s: %w", p.id, op, p.doc, err)
	}
	p.doc = doc
	p.queued = append(p.queued, op)
	p.observe(op)
	return nil
}

// redeliver applies an op applied before again: a CRDT's state must not change.
func (p *propPeer) redeliver(r *rand.Rand) error {
	if len(p.applied) == 0 {
		return nil
	}
	op := p.applied[r.IntN(len(p.applied))]
	doc, err := p.m.apply(p.doc, op)
	if err != nil {
		return fmt.Errorf("peer %s: redeliver %s: %w", p.id, op, err)
	}
	if !bytes.Equal(doc, p.doc) {
		return fmt.Errorf("peer %s: redelivering %s changed\n%s\nto\n%s", p.id, op, p.doc, doc)
	}
	return nil
}

// propHarness is one document, its actor and its peers.
type propHarness struct {
	t     *testing.T
	reg   *Registry
	key   storage.DocKey
	peers []*propPeer
	m     model
}

func (h *propHarness) do(fn func(*Doc) error) {
	h.t.Helper()
	if err := h.reg.Do(context.Background(), h.key, fn); err != nil {
		h.t.Fatal(err)
	}
}

// send submits p's next queued op when none is in flight; with resend, it first submits an op
// it sent before again (same client id and seq), which the server must recognise.
func (h *propHarness) send(p *propPeer, resend bool) {
	if resend && len(p.sent) > 0 && p.inflight == nil {
		s := p.sent[len(p.sent)-1]
		done := make(chan SubmitResult, 1)
		h.do(func(d *Doc) error {
			return d.Submit(context.Background(), SubmitRequest{DocType: h.m.docType, BaseRevision: 0, Op: s[1].([]byte),
				ClientID: p.id, Seq: s[0].(uint64), Author: p.id}, func(r SubmitResult, err error) {
				if err != nil {
					h.t.Errorf("peer %s: re-send: %v", p.id, err)
				}
				done <- r
			})
		})
		if r := <-done; !r.Duplicate {
			h.t.Errorf("peer %s: a re-sent op was not recognised as a duplicate: %+v", p.id, r)
		}
	}
	if p.inflight != nil || len(p.queued) == 0 {
		return
	}
	op := p.queued[0]
	p.queued = p.queued[1:]
	p.inflight = op
	p.seq++
	p.sent = append(p.sent, [2]any{p.seq, op})
	h.do(func(d *Doc) error {
		return d.Submit(context.Background(), SubmitRequest{DocType: h.m.docType, BaseRevision: p.rev, Op: op,
			ClientID: p.id, Seq: p.seq, Author: p.id}, func(r SubmitResult, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("peer %s: submit %s: %w", p.id, op, err))
				return
			}
			p.inbox[r.Revision] = inMsg{ack: true}
		})
	})
}

func (h *propHarness) check() {
	h.t.Helper()
	for _, p := range h.peers {
		p.mu.Lock()
		errs := p.errs
		p.mu.Unlock()
		for _, err := range errs {
			h.t.Fatal(err)
		}
	}
}

func TestEnginesConvergeThroughTheActor(t *testing.T) {
	ms := models()
	engines := loadEngines(t, ms)
	for _, m := range ms {
		t.Run(m.docType, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(3) {
				runProperty(t, engines, m, seed)
			}
		})
	}
}

func runProperty(t *testing.T, engines hostEngines, m model, seed uint64) {
	const peers, opsPerPeer = 3, 40
	r := rand.New(rand.NewPCG(seed, 0x0b5e55ed))
	mem := memory.New()
	com := store.NewCommitter(mem, store.CommitterConfig{}, nil)
	reg := NewRegistry(Config{SnapshotEvery: 25}, mem, engines, com, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Close(ctx)
		_ = com.Close(ctx)
	})
	h := &propHarness{t: t, reg: reg, key: storage.DocKey{Tenant: "t", ID: fmt.Sprint(m.docType, "-", seed)}, m: m}
	if m.init != "" {
		done := make(chan error, 1)
		h.do(func(d *Doc) error {
			return d.Submit(context.Background(), SubmitRequest{DocType: m.docType, Op: json.RawMessage(m.init), ClientID: "init", Seq: 1},
				func(_ SubmitResult, err error) { done <- err })
		})
		if err := <-done; err != nil {
			t.Fatalf("init: %v", err)
		}
	}
	for i := range peers {
		p := &propPeer{id: fmt.Sprint("p", i), m: m, inbox: map[int64]inMsg{}}
		joined := make(chan JoinResult, 1)
		h.do(func(d *Doc) error {
			return d.Join(context.Background(), p, m.docType, nil, func(r JoinResult, err error) {
				if err != nil {
					t.Errorf("join: %v", err)
				}
				joined <- r
			})
		})
		jr := <-joined
		p.doc, p.rev = jr.Snapshot, jr.Revision
		h.peers = append(h.peers, p)
	}

	// Random interleaving of edits, sends, re-sends, deliveries and redeliveries.
	made := 0
	for made < peers*opsPerPeer || r.IntN(4) != 0 {
		p := h.peers[r.IntN(peers)]
		var err error
		switch k := r.IntN(10); {
		case k < 3 && made < peers*opsPerPeer:
			err = p.edit(r)
			made++
		case k < 5:
			h.send(p, m.idempotent && r.IntN(8) == 0)
		case k < 6 && m.idempotent:
			err = p.redeliver(r)
		default:
			_, err = p.receive()
		}
		if err != nil {
			t.Fatal(err)
		}
		h.check()
	}

	// Drain: send everything, read everything.
	want := int64(peers * opsPerPeer)
	if m.init != "" {
		want++
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		busy := false
		for _, p := range h.peers {
			h.send(p, false)
			for {
				ok, err := p.receive()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
			}
			busy = busy || p.inflight != nil || len(p.queued) > 0 || p.rev < want
		}
		h.check()
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("seed %d: peers did not drain", seed)
		}
		time.Sleep(time.Millisecond)
	}

	read := make(chan ReadResult, 1)
	h.do(func(d *Doc) error {
		return d.Read(context.Background(), func(r ReadResult, err error) {
			if err != nil {
				t.Errorf("read: %v", err)
			}
			read <- r
		})
	})
	server := <-read
	if server.Revision != want {
		t.Fatalf("seed %d: server at revision %d; want %d", seed, server.Revision, want)
	}
	for _, p := range h.peers {
		if !bytes.Equal(p.doc, server.Snapshot) && !(m.jsonEqual && sameJSON(t, p.doc, server.Snapshot)) {
			t.Fatalf("seed %d: peer %s diverged from the server:\npeer   %s\nserver %s", seed, p.id, p.doc, server.Snapshot)
		}
	}
}

// sameJSON reports whether a and b are equal JSON values.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}
