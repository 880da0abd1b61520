package cluster

import (
	"fmt"
	"testing"
)

// Rendezvous hashing spreads keys evenly and every node agrees on the winner.
func TestRendezvousSpreads(t *testing.T) {
	nodes := []string{"n0.1a2b3c4d", "n1.5e6f7a8b", "n2.9c0d1e2f"}
	counts := map[string]int{}
	for i := 0; i < 3000; i++ {
		key := fmt.Sprintf("default/doc%d", i)
		w := rendezvous(key, nodes, "self")
		if again := rendezvous(key, []string{nodes[2], nodes[0], nodes[1]}, "other"); again != w {
			t.Fatalf("%s: winner depends on the order of nodes (%s vs %s)", key, w, again)
		}
		counts[w]++
	}
	for _, n := range nodes {
		if c := counts[n]; c < 800 || c > 1200 {
			t.Errorf("node %s wins %d of 3000 keys: %v", n, c, counts)
		}
	}
	// Removing a node only moves that node's keys.
	moved := 0
	for i := 0; i < 3000; i++ {
		key := fmt.Sprintf("default/doc%d", i)
		before := rendezvous(key, nodes, "")
		after := rendezvous(key, nodes[:2], "")
		if before != nodes[2] && before != after {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d keys of surviving nodes moved when a node left", moved)
	}
}
