// Command gen writes the shared test vectors of the CRDT engines (form, json, tree, table) to
// clients/js/vectors/*.json: seeded random op histories from several peers, delivered to the
// server's Go engines (imported natively) in different orders, with duplicates and a snapshot
// reload midway, and the snapshots the engines end with. clients/js/test/crdt.test.mjs replays
// them with the client's TypeScript implementations and requires byte-identical snapshots.
//
//	go run ./clients/js/vectors/gen            # from the repository root
//	go run ./clients/js/vectors/gen -out DIR -cases 1000 -seed 1
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opstream/opstream/plugins/transforms/form"
	"github.com/opstream/opstream/plugins/transforms/jsoncrdt"
	"github.com/opstream/opstream/plugins/transforms/table"
	"github.com/opstream/opstream/plugins/transforms/tree"
)

// engine is one CRDT engine behind a uniform interface: a fresh document, apply an op (its
// JSON), snapshot, and reload from a snapshot.
type engine interface {
	apply(op []byte) error
	snapshot() []byte
	reload() error
}

type formEng struct{ d *form.Doc }

func (e *formEng) apply(b []byte) error {
	op, err := form.ParseOp(b)
	if err != nil {
		return err
	}
	return e.d.Apply(op)
}
func (e *formEng) snapshot() []byte { return e.d.AppendSnapshot(nil) }
func (e *formEng) reload() (err error) {
	e.d, err = form.ParseSnapshot(e.snapshot())
	return err
}

type jsonEng struct{ d *jsoncrdt.Doc }

func (e *jsonEng) apply(b []byte) error {
	op, err := jsoncrdt.ParseOp(b)
	if err != nil {
		return err
	}
	return e.d.Apply(op)
}
func (e *jsonEng) snapshot() []byte { return e.d.AppendSnapshot(nil) }
func (e *jsonEng) reload() (err error) {
	e.d, err = jsoncrdt.ParseSnapshot(e.snapshot())
	return err
}

type treeEng struct{ d *tree.Doc }

func (e *treeEng) apply(b []byte) error {
	op, err := tree.ParseOp(b)
	if err != nil {
		return err
	}
	return e.d.Apply(op)
}
func (e *treeEng) snapshot() []byte { return e.d.AppendSnapshot(nil) }
func (e *treeEng) reload() (err error) {
	e.d, err = tree.ParseSnapshot(e.snapshot())
	return err
}

type tableEng struct{ d *table.Doc }

func (e *tableEng) apply(b []byte) error {
	op, err := table.ParseOp(b)
	if err != nil {
		return err
	}
	return e.d.Apply(op)
}
func (e *tableEng) snapshot() []byte { return e.d.AppendSnapshot(nil) }
func (e *tableEng) reload() (err error) {
	e.d, err = table.ParseSnapshot(e.snapshot())
	return err
}

var engines = map[string]func() engine{
	"form":  func() engine { return &formEng{form.NewDoc()} },
	"json":  func() engine { return &jsonEng{jsoncrdt.NewDoc()} },
	"tree":  func() engine { return &treeEng{tree.NewDoc()} },
	"table": func() engine { return &tableEng{table.NewDoc()} },
}

// jsString writes s as JavaScript's JSON.stringify does (so values round-trip through the
// client unchanged): only ", \, and control characters are escaped.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// gen makes random ops for one case.
type gen struct {
	r      *rand.Rand
	peers  []string
	clocks map[string]int64
	stamps [][2]string // (ts, peer) of earlier ops, to reuse
	fresh  bool        // only Lamport stamps (no stale or reused ones)
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

// stamp returns `"ts":N,"peer":P`: usually the next Lamport tick of a random peer (peers sync
// their clocks now and then), sometimes a stale stamp, now and then an exact reuse of an
// earlier op's stamp (a misbehaving client: ties are broken by the op's bytes).
func (g *gen) stamp() string {
	peer := g.pick(g.peers)
	var ts int64
	k := g.r.IntN(100)
	if g.fresh {
		k = 99
	}
	switch {
	case k < 5 && len(g.stamps) > 0:
		s := g.stamps[g.r.IntN(len(g.stamps))]
		return `"ts":` + s[0] + `,"peer":` + s[1]
	case k < 15:
		ts = g.r.Int64N(g.clocks[peer] + 2)
	default:
		if g.r.IntN(4) == 0 { // sync: catch up with everyone's clock
			for _, c := range g.clocks {
				g.clocks[peer] = max(g.clocks[peer], c)
			}
		}
		g.clocks[peer]++
		ts = g.clocks[peer]
	}
	s := [2]string{strconv.FormatInt(ts, 10), jsString(peer)}
	g.stamps = append(g.stamps, s)
	return `"ts":` + s[0] + `,"peer":` + s[1]
}

var strs = []string{"", "a", "hi", "é", "😀", "<&>", "\n\t", "q\"\\", "\u2028\u2029", "\x01\x1f\b\f", "Z", "\ufffd"}
var objKeys = []string{"a", "b", "z", "Z", "é", "<k>", "a b", "😀", "_", "aa"}

// value returns a random JSON value written as JSON.stringify would write it. Object keys come
// in random order (engines keep them as written in registers; json's "value" sorts them); no
// integer-like keys (JavaScript would reorder them).
func (g *gen) value(depth int) string {
	k := g.r.IntN(10)
	if depth > 1 && k >= 7 {
		k = g.r.IntN(7)
	}
	switch k {
	case 0:
		return "null"
	case 1:
		return []string{"true", "false"}[g.r.IntN(2)]
	case 2:
		return strconv.Itoa(g.r.IntN(2001) - 1000)
	case 3:
		return []string{"1.5", "-0.25", "3.125", "1e+21", "1.5e-7", "12345678.5"}[g.r.IntN(6)]
	case 4, 5, 6:
		return jsString(g.pick(strs))
	case 7:
		n := g.r.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = g.value(depth + 1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		n := g.r.IntN(3)
		keys := g.r.Perm(len(objKeys))[:n]
		parts := make([]string, n)
		for i, ki := range keys {
			parts[i] = jsString(objKeys[ki]) + ":" + g.value(depth+1)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
}

var formFields = []string{"title", "done", "é", "<x>", "a b", "Z", "😀", "n"}

func (g *gen) formOp() string {
	perm := g.r.Perm(len(formFields))
	nset, ndel := g.r.IntN(4), g.r.IntN(3)
	if nset+ndel == 0 {
		nset = 1
	}
	var parts []string
	if nset > 0 {
		var fs []string
		for _, i := range perm[:nset] {
			fs = append(fs, jsString(formFields[i])+":"+g.value(1))
		}
		parts = append(parts, `"set":{`+strings.Join(fs, ",")+"}")
	}
	if ndel > 0 {
		var ds []string
		for _, i := range perm[nset : nset+ndel] {
			ds = append(ds, jsString(formFields[i]))
		}
		parts = append(parts, `"del":[`+strings.Join(ds, ",")+"]")
	}
	if g.r.IntN(2) == 0 && len(parts) == 2 {
		parts[0], parts[1] = parts[1], parts[0]
	}
	return "{" + strings.Join(parts, ",") + "," + g.stamp() + "}"
}

var jsonKeys = []string{"a", "b", "c", "é", "<k>", "Z", "😀"}

func (g *gen) jsonPath() string {
	n := 1 + g.r.IntN(3)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = jsString(jsonKeys[g.r.IntN(len(jsonKeys)-i*2)]) // deeper levels use fewer keys
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (g *gen) jsonOp() string {
	if g.r.IntN(4) == 0 {
		return `{"del":` + g.jsonPath() + "," + g.stamp() + "}"
	}
	return `{"set":[` + g.jsonPath() + "," + g.value(1) + "]," + g.stamp() + "}"
}

var treeIDs = []string{"n1", "n2", "n3", "n4", "n5", "x<y", "é"}
var treeKeys = []string{"a0", "a1", "a0V", "b", "Z", "é", "a"}

func (g *gen) treeOp() string {
	id := jsString(g.pick(treeIDs))
	parentOf := func() string {
		for {
			p := g.pick(append([]string{"root", "root"}, treeIDs...))
			if jsString(p) != id {
				return jsString(p)
			}
		}
	}
	switch k := g.r.IntN(20); {
	case k < 6:
		pl := ""
		if g.r.IntN(2) == 0 {
			pl = `,"payload":` + g.value(1)
		}
		return `{"op":"create","id":` + id + `,"parent":` + parentOf() + `,"key":` + jsString(g.pick(treeKeys)) + pl + "," + g.stamp() + "}"
	case k < 14:
		return `{"op":"move","id":` + id + `,"parent":` + parentOf() + `,"key":` + jsString(g.pick(treeKeys)) + "," + g.stamp() + "}"
	case k < 17:
		return `{"op":"delete","id":` + id + "," + g.stamp() + "}"
	default:
		return `{"op":"update","id":` + id + `,"payload":` + g.value(1) + "," + g.stamp() + "}"
	}
}

var rowIDs = []string{"r1", "r2", "r3", "r4", "r<5>"}
var colIDs = []string{"c1", "c2", "c3", "é"}
var axisKeys = []string{"a0", "a1", "b", "Z", "a0V"}

func (g *gen) tableOp() string {
	switch k := g.r.IntN(20); {
	case k < 4:
		return `{"op":"insert_row","id":` + jsString(g.pick(rowIDs)) + `,"key":` + jsString(g.pick(axisKeys)) + "," + g.stamp() + "}"
	case k < 7:
		return `{"op":"insert_column","id":` + jsString(g.pick(colIDs)) + `,"key":` + jsString(g.pick(axisKeys)) + "," + g.stamp() + "}"
	case k < 8:
		return `{"op":"delete_row","id":` + jsString(g.pick(rowIDs)) + "," + g.stamp() + "}"
	case k < 9 && g.r.IntN(2) == 0:
		return `{"op":"delete_column","id":` + jsString(g.pick(colIDs)) + "," + g.stamp() + "}"
	default:
		return `{"op":"set_cell","row":` + jsString(g.pick(rowIDs)) + `,"col":` + jsString(g.pick(colIDs)) + `,"value":` + g.value(1) + "," + g.stamp() + "}"
	}
}

// Delivery is one replica's arrival order (indices into the case's ops, with duplicates);
// when Reload > 0 the replica was reloaded from its snapshot after that many ops, and
// MidSnapshot is that snapshot.
type Delivery struct {
	Order       []int  `json:"order"`
	Reload      int    `json:"reload,omitempty"`
	MidSnapshot string `json:"midSnapshot,omitempty"`
}

// Case is one history: its ops, how replicas received them, and the snapshot every replica
// ends with (or, for very long cases, its SHA-256 and length).
type Case struct {
	Ops            []json.RawMessage `json:"ops"`
	Deliveries     []Delivery        `json:"deliveries"`
	Snapshot       string            `json:"snapshot,omitempty"`
	SnapshotSHA256 string            `json:"snapshotSha256,omitempty"`
	SnapshotLen    int               `json:"snapshotLen,omitempty"`
}

// File is one engine's vectors.
type File struct {
	Engine string `json:"engine"`
	Seed   uint64 `json:"seed"`
	Note   string `json:"note"`
	Empty  string `json:"empty"`
	Cases  []Case `json:"cases"`
}

// deliver applies ops in order to a fresh document, reloading from the snapshot after reload
// ops when reload > 0. It returns the snapshot midway (if reloaded) and at the end.
func deliver(name string, ops []string, order []int, reload int) (mid, end []byte, err error) {
	e := engines[name]()
	for i, k := range order {
		if reload > 0 && i == reload {
			mid = e.snapshot()
			if err := e.reload(); err != nil {
				return nil, nil, fmt.Errorf("reload: %v", err)
			}
			if s := e.snapshot(); !bytes.Equal(s, mid) {
				return nil, nil, fmt.Errorf("reload changed the snapshot:\n%s\n%s", mid, s)
			}
		}
		if err := e.apply([]byte(ops[k])); err != nil {
			return nil, nil, fmt.Errorf("op %d %s: %w", k, ops[k], err)
		}
	}
	return mid, e.snapshot(), nil
}

// order returns a random arrival order of n ops with some duplicates.
func order(r *rand.Rand, n int) []int {
	o := r.Perm(n)
	for i := r.IntN(n/4 + 1); i > 0; i-- {
		at := r.IntN(len(o) + 1)
		o = append(o[:at], append([]int{r.IntN(n)}, o[at:]...)...)
	}
	return o
}

func makeCase(name string, r *rand.Rand, nops int, long bool) (Case, error) {
	g := &gen{r: r, clocks: map[string]int64{}, fresh: long}
	peers := []string{"ann", "bob", "cy", "dé", "Zed", "a<b>"}
	if name == "tree" || name == "table" {
		peers = peers[:5] // ids, keys and peers are plain strings there too; "<" is fine, kept simple
	}
	g.peers = peers[:2+r.IntN(len(peers)-1)]
	ops := make([]string, nops)
	first := 0
	var created []string
	if name == "tree" && !long {
		// Most histories start by building a few levels, so that later moves run into cycles
		// (a node moved under its own descendant, or two nodes moved under each other).
		perm := r.Perm(len(treeIDs))
		for k := range min(nops, r.IntN(5)) {
			parent := "root"
			if k > 0 && r.IntN(3) > 0 {
				parent = treeIDs[perm[r.IntN(k)]]
			}
			ops[k] = `{"op":"create","id":` + jsString(treeIDs[perm[k]]) + `,"parent":` + jsString(parent) + `,"key":` + jsString(g.pick(treeKeys)) + "," + g.stamp() + "}"
			first = k + 1
			created = append(created, treeIDs[perm[k]])
		}
	}
	for i := first; i < len(ops); i++ {
		switch name {
		case "form":
			ops[i] = g.formOp()
		case "json":
			ops[i] = g.jsonOp()
		case "tree":
			if len(created) >= 2 && i+1 < len(ops) && r.IntN(4) == 0 {
				// Two peers concurrently move a under b and b under a: whichever sorts later
				// would make a cycle and is skipped.
				perm := r.Perm(len(created))
				a, b := jsString(created[perm[0]]), jsString(created[perm[1]])
				ops[i] = `{"op":"move","id":` + a + `,"parent":` + b + `,"key":"a",` + g.stamp() + "}"
				ops[i+1] = `{"op":"move","id":` + b + `,"parent":` + a + `,"key":"b",` + g.stamp() + "}"
				i++
				continue
			}
			ops[i] = g.treeOp()
			if long && strings.Contains(ops[i], `"update"`) {
				ops = append(ops, "") // updates are not logged: make up for them
			}
		case "table":
			ops[i] = g.tableOp()
		}
	}
	nops = len(ops)
	var orders [][]int
	if long {
		// Mostly in stamp-ish order (as generated), with some late ops: a long log that folds
		// past the tree's history horizon.
		o := make([]int, nops)
		for i := range o {
			o[i] = i
		}
		for i := 0; i < nops/20; i++ {
			a := r.IntN(nops - 30)
			b := a + 1 + r.IntN(20)
			o[a], o[b] = o[b], o[a]
		}
		orders = [][]int{o}
	} else {
		orders = [][]int{order(r, nops), order(r, nops)}
		if r.IntN(3) == 0 {
			orders = append(orders, order(r, nops))
		}
	}
	c := Case{}
	for _, op := range ops {
		c.Ops = append(c.Ops, json.RawMessage(op))
	}
	var want []byte
	for i, o := range orders {
		d := Delivery{Order: o}
		if i == 0 && !long && len(o) > 2 && r.IntN(3) == 0 {
			d.Reload = 1 + r.IntN(len(o)-1)
		}
		mid, end, err := deliver(name, ops, o, d.Reload)
		if err != nil {
			return Case{}, err
		}
		if d.Reload > 0 {
			d.MidSnapshot = string(mid)
		}
		if i == 0 {
			want = end
		} else if !bytes.Equal(end, want) {
			return Case{}, fmt.Errorf("%s: replicas diverged:\n%s\n%s", name, want, end)
		}
		c.Deliveries = append(c.Deliveries, d)
	}
	if long {
		h := sha256.Sum256(want)
		c.SnapshotSHA256, c.SnapshotLen = hex.EncodeToString(h[:]), len(want)
	} else {
		c.Snapshot = string(want)
	}
	return c, nil
}

// Defaults of the committed vectors.
const (
	defaultCases = 750
	defaultSeed  = 7
)

func main() {
	out := flag.String("out", "clients/js/vectors", "output directory")
	ncases := flag.Int("cases", defaultCases, "cases per engine")
	seed := flag.Uint64("seed", defaultSeed, "random seed")
	flag.Parse()
	if _, err := os.Stat(*out); err != nil {
		log.Fatalf("output directory: %v (run from the repository root or pass -out)", err)
	}
	total := 0
	for _, name := range []string{"form", "json", "tree", "table"} {
		b, n, err := generate(name, *ncases, *seed)
		if err != nil {
			log.Fatal(err)
		}
		path := filepath.Join(*out, name+".json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			log.Fatal(err)
		}
		total += n
		fmt.Printf("%s: %d cases, %d bytes\n", path, n, len(b))
	}
	fmt.Printf("%d cases in all\n", total)
}

// generate returns one engine's vector file and its number of cases.
func generate(name string, ncases int, seed uint64) ([]byte, int, error) {
	r := rand.New(rand.NewPCG(seed, uint64(len(name))))
	f := File{Engine: name, Seed: seed, Empty: string(engines[name]().snapshot()),
		Note: "generated by `go run ./clients/js/vectors/gen` from the Go engines; do not edit"}
	for len(f.Cases) < ncases {
		nops := 2 + r.IntN(8)
		if r.IntN(6) == 0 {
			nops = 10 + r.IntN(20)
		}
		c, err := makeCase(name, r, nops, false)
		if err != nil {
			if strings.Contains(err.Error(), "horizon") || strings.Contains(err.Error(), "would") {
				continue // an order-dependent refusal: not a convergence case
			}
			return nil, 0, fmt.Errorf("%s case %d: %w", name, len(f.Cases), err)
		}
		f.Cases = append(f.Cases, c)
	}
	if name == "tree" {
		// One history longer than the log (5000 ops): the horizon and folding.
		c, err := makeCase(name, r, tree.MaxLog+100, true)
		if err != nil {
			return nil, 0, fmt.Errorf("tree long case: %w", err)
		}
		f.Cases = append(f.Cases, c)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, 0, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	// One case per line keeps diffs readable.
	b = bytes.ReplaceAll(b, []byte(`},{"ops":`), []byte("},\n{\"ops\":"))
	return append(b, '\n'), len(f.Cases), nil
}
