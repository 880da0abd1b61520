package tree

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// history generates ops the way real peers make them: each peer edits its own replica, stamps
// its ops with a Lamport clock, and now and then receives some of the others' ops, so the ops
// are concurrent in every pattern (moves of one node, moves into each other's subtrees, deletes
// of subtrees others edit, edits under nodes another peer is moving).
type history struct {
	t      testing.TB
	r      *rand.Rand
	peers  []*peer
	ops    []string
	delete bool // whether peers delete nodes
}

type peer struct {
	name  string
	clock int64
	doc   *Doc
	seen  map[int]bool // indices into history.ops
	made  int
}

func newHistory(t testing.TB, r *rand.Rand, peers int, deletes bool) *history {
	h := &history{t: t, r: r, delete: deletes}
	for i := range peers {
		h.peers = append(h.peers, &peer{name: fmt.Sprintf("p%d", i), doc: NewDoc(), seen: map[int]bool{}})
	}
	return h
}

func (h *history) apply(p *peer, i int) {
	op := mustOp(h.t, h.ops[i])
	if err := p.doc.Apply(op); err != nil {
		h.t.Fatalf("peer %s applying %s: %v", p.name, h.ops[i], err)
	}
	p.seen[i] = true
	p.clock = max(p.clock, op.TS)
}

// sync delivers a random subset of the ops p has not seen, in a random order.
func (h *history) sync(p *peer) {
	for _, i := range h.r.Perm(len(h.ops)) {
		if !p.seen[i] && h.r.IntN(2) == 0 {
			h.apply(p, i)
		}
	}
}

// edit makes p do one random op on its replica.
func (h *history) edit(p *peer) {
	ids := slices.Sorted(maps.Keys(p.doc.nodes))
	var existing []string
	for _, id := range ids {
		if p.doc.nodes[id].exists {
			existing = append(existing, id)
		}
	}
	pick := func(s []string) string { return s[h.r.IntN(len(s))] }
	parents := append([]string{Root, Root}, existing...)
	key := string(rune('a' + h.r.IntN(6)))
	p.clock++
	stamp := fmt.Sprintf(`"ts":%d,"peer":%q`, p.clock, p.name)
	var op string
	switch k := h.r.IntN(10); {
	case len(existing) == 0 || k < 3:
		p.made++
		op = fmt.Sprintf(`{"op":"create","id":"%s-%d","parent":%q,"key":%q,"payload":%d,%s}`, p.name, p.made, pick(parents), key, h.r.IntN(9), stamp)
	case k < 7:
		id, parent := pick(existing), pick(parents)
		if id == parent {
			parent = Root
		}
		op = fmt.Sprintf(`{"op":"move","id":%q,"parent":%q,"key":%q,%s}`, id, parent, key, stamp)
	case k < 8 && h.delete:
		op = fmt.Sprintf(`{"op":"delete","id":%q,%s}`, pick(existing), stamp)
	default:
		op = fmt.Sprintf(`{"op":"update","id":%q,"payload":{"v":%d},%s}`, pick(existing), h.r.IntN(9), stamp)
	}
	h.ops = append(h.ops, op)
	h.apply(p, len(h.ops)-1)
}

// applyInOrder applies ops in order to a new document; reload > 0 reloads the snapshot after
// that many ops.
func applyInOrder(t testing.TB, ops []string, reload int) *Doc {
	d := NewDoc()
	for i, s := range ops {
		if err := d.Apply(mustOp(t, s)); err != nil {
			t.Fatalf("apply %s: %v", s, err)
		}
		if i+1 == reload {
			var err error
			if d, err = ParseSnapshot(d.AppendSnapshot(nil)); err != nil {
				t.Fatalf("reload: %v", err)
			}
		}
	}
	return d
}

// byStamp returns ops sorted in stamp order: applied so, the log never undoes anything, so
// this is the definition the undo-do-redo replicas must match.
func byStamp(t testing.TB, ops []string) []string {
	sorted := slices.Clone(ops)
	slices.SortStableFunc(sorted, func(a, b string) int {
		oa, ob := mustOp(t, a), mustOp(t, b)
		return compareOps(&oa, &ob)
	})
	return sorted
}

// checkTree checks the invariants: the parent pointers form a forest, and every node that
// exists is in the tree unless it or an ancestor is deleted (nothing is lost but by a delete).
func checkTree(t testing.TB, d *Doc, ops []string) {
	t.Helper()
	if err := d.checkForest(); err != nil {
		t.Fatalf("%v\nops %q", err, ops)
	}
	live := d.liveSet()
	for id, n := range d.nodes {
		if !n.exists || live[id] {
			continue
		}
		hidden := false
		for p, steps := id, 0; p != Root && steps <= len(d.nodes); steps++ {
			q := d.nodes[p]
			if q == nil || !q.exists {
				break
			}
			if q.deleted {
				hidden = true
				break
			}
			p = q.parent
		}
		if !hidden {
			t.Fatalf("node %s is lost: not in the tree and not under a deleted node\nops %q", id, ops)
		}
	}
}

// TestConvergence is the property test: for thousands of random concurrent histories (seeded,
// so reproducible), replicas that apply the same ops in different random orders, with
// redelivered duplicates and a snapshot reload midway, end with byte-identical snapshots equal
// to applying the ops in stamp order, and no node is lost or caught in a cycle.
func TestConvergence(t *testing.T) {
	cases := 3000
	if testing.Short() {
		cases = 300
	}
	for seed := range uint64(cases) {
		r := rand.New(rand.NewPCG(seed, 0x7ee))
		h := newHistory(t, r, 2+r.IntN(3), seed%3 != 0)
		for range 5 + r.IntN(40) {
			p := h.peers[r.IntN(len(h.peers))]
			if r.IntN(4) == 0 {
				h.sync(p)
			} else {
				h.edit(p)
			}
		}
		ref := applyInOrder(t, byStamp(t, h.ops), 0)
		want := string(ref.AppendSnapshot(nil))
		checkTree(t, ref, h.ops)
		if !h.delete {
			for id, n := range ref.nodes {
				if n.exists && !ref.live(id) {
					t.Fatalf("seed %d: node %s lost without any delete\nops %q", seed, id, h.ops)
				}
			}
		}
		for replica := range 3 {
			order := slices.Clone(h.ops)
			for range r.IntN(4) {
				order = append(order, h.ops[r.IntN(len(h.ops))])
			}
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			reload := 0
			if replica == 1 {
				reload = len(order) / 2
			}
			if got := string(applyInOrder(t, order, reload).AppendSnapshot(nil)); got != want {
				t.Fatalf("seed %d replica %d diverged:\n got %s\nwant %s\norder %q", seed, replica, got, want, order)
			}
		}
		// The peers' own replicas, after receiving everything, agree too.
		for _, p := range h.peers {
			for i := range h.ops {
				if !p.seen[i] {
					h.apply(p, i)
				}
			}
			if got := string(p.doc.AppendSnapshot(nil)); got != want {
				t.Fatalf("seed %d: peer %s diverged:\n got %s\nwant %s", seed, p.name, got, want)
			}
		}
	}
}

// TestConvergenceArbitraryStamps: peers with broken clocks (random stamps, stamps reused with
// different ops, ops on ids nobody created) still converge, and the tree stays a forest.
func TestConvergenceArbitraryStamps(t *testing.T) {
	cases := 2000
	if testing.Short() {
		cases = 200
	}
	ids := []string{"a", "b", "c", "d", "e"}
	for seed := range uint64(cases) {
		r := rand.New(rand.NewPCG(seed, 0xbad))
		var ops []string
		for range 2 + r.IntN(30) {
			id, parent := ids[r.IntN(len(ids))], ids[r.IntN(len(ids))]
			if id == parent || r.IntN(4) == 0 {
				parent = Root
			}
			stamp := fmt.Sprintf(`"ts":%d,"peer":"p%d"`, r.IntN(10), r.IntN(2))
			switch r.IntN(4) {
			case 0:
				ops = append(ops, fmt.Sprintf(`{"op":"create","id":%q,"parent":%q,"key":"k%d",%s}`, id, parent, r.IntN(3), stamp))
			case 1:
				ops = append(ops, fmt.Sprintf(`{"op":"move","id":%q,"parent":%q,"key":"k%d",%s}`, id, parent, r.IntN(3), stamp))
			case 2:
				ops = append(ops, fmt.Sprintf(`{"op":"delete","id":%q,%s}`, id, stamp))
			default:
				ops = append(ops, fmt.Sprintf(`{"op":"update","id":%q,"payload":%d,%s}`, id, r.IntN(3), stamp))
			}
		}
		want := string(applyInOrder(t, byStamp(t, ops), 0).AppendSnapshot(nil))
		for replica := range 3 {
			order := slices.Clone(ops)
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			d := applyInOrder(t, order, replica*len(order)/3)
			if got := string(d.AppendSnapshot(nil)); got != want {
				t.Fatalf("seed %d replica %d diverged:\n got %s\nwant %s\norder %q", seed, replica, got, want, order)
			}
			if err := d.checkForest(); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
	}
}
