package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

// check loads a module in the sandbox and runs its self-test against samples:
//   - an engine: samples is a JSON array of ops valid on an empty document; every pair (a, b)
//     must converge the way the server rebases (b after a with side left against a after b
//     with side right); then random concurrent histories (2-5 of the samples, in a random
//     server order) must converge for every peer (TP1: a peer that applied its own op first and
//     transforms what the server ordered before it ends where the server is); malformed input
//     must be refused cleanly, never trap;
//   - an authorizer: samples holds JSON lines {"request": {...}, "access": "read"} (optionally
//     "config": {...} on the first line); every decision must match.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	samples := fs.String("samples", "", "file of sample ops (engine) or requests (authorizer)")
	config := fs.String("config", "", "authorizer config block (JSON file)")
	rounds := fs.Int("rounds", 300, "engine: random concurrent histories to check")
	seed := fs.Uint64("seed", 0, "engine: random seed (0 means a random one, printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *samples == "" {
		return errors.New(pluginUsage)
	}
	path := fs.Arg(0)
	bin, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read module: %w", err)
	}
	sample, err := os.ReadFile(*samples)
	if err != nil {
		return fmt.Errorf("read samples: %w", err)
	}
	rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{CacheDir: cliCacheDir(), Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	mod, err := rt.Compile(ctx, filepath.Base(path), bin)
	if err != nil {
		return fmt.Errorf("module refused: %w", err)
	}
	switch mod.Manifest().Role {
	case wasm.RoleEngine:
		if *seed == 0 {
			*seed = rand.Uint64()
		}
		return checkEngine(ctx, mod, sample, *rounds, *seed, stdout)
	case wasm.RoleAuthorizer:
		conf := []byte("{}")
		if *config != "" {
			if conf, err = os.ReadFile(*config); err != nil {
				return fmt.Errorf("read config: %w", err)
			}
		}
		return checkAuthorizer(ctx, mod, conf, sample, stdout)
	}
	return fmt.Errorf("unknown role %q", mod.Manifest().Role)
}

func checkEngine(ctx context.Context, mod *pluginhost.Module, sample []byte, rounds int, seed uint64, stdout io.Writer) error {
	var ops []json.RawMessage
	if err := json.Unmarshal(sample, &ops); err != nil {
		return fmt.Errorf("samples must be a JSON array of ops: %w", err)
	}
	eng, err := pluginhost.NewEngine(ctx, mod, pluginhost.EngineConfig{Instances: 1})
	if err != nil {
		return err
	}
	defer eng.Close(ctx)
	empty, err := eng.Empty(ctx)
	if err != nil {
		return fmt.Errorf("engine_empty: %w", err)
	}
	// Both orders of every pair must end in the same snapshot.
	apply := func(first, second []byte, side int32) ([]byte, error) {
		d, err := eng.Open(ctx, empty)
		if err != nil {
			return nil, fmt.Errorf("engine_open: %w", err)
		}
		defer d.Close(ctx)
		if _, err := d.Apply(ctx, first, nil, wasm.SideLeft); err != nil {
			return nil, fmt.Errorf("apply %s: %w", first, err)
		}
		if _, err := d.Apply(ctx, second, [][]byte{first}, side); err != nil {
			return nil, fmt.Errorf("apply %s over %s: %w", second, first, err)
		}
		return d.Snapshot(ctx)
	}
	pairs := 0
	for i, a := range ops {
		for j, b := range ops {
			if i == j {
				continue
			}
			x, err := apply(a, b, wasm.SideLeft)
			if err != nil {
				return err
			}
			y, err := apply(b, a, wasm.SideRight)
			if err != nil {
				return err
			}
			if !bytes.Equal(x, y) {
				return fmt.Errorf("does not converge: %s then %s (left) gives %s, %s then %s (right) gives %s", a, b, x, b, a, y)
			}
			pairs++
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for r := 0; r < rounds && len(ops) >= 2; r++ {
		k := 2 + rng.IntN(min(4, len(ops)-1))
		history := make([][]byte, k)
		for i := range history {
			history[i] = ops[rng.IntN(len(ops))]
		}
		if err := checkHistory(ctx, eng, empty, history); err != nil {
			return fmt.Errorf("random history %d (seed %d): %w", r, seed, err)
		}
	}
	for _, bad := range []string{`not json`, `{"unexpected":`, `[[[[[[[[[[`} {
		err := eng.Validate(ctx, []byte(bad))
		if err == nil {
			return fmt.Errorf("engine_validate accepted %q", bad)
		}
		if !errors.Is(err, pluginhost.ErrRejected) {
			return fmt.Errorf("engine_validate of %q failed instead of refusing it: %w", bad, err)
		}
	}
	fmt.Fprintf(stdout, "ok: %s converges on %d ordered pairs of %d sample ops and %d random concurrent histories (seed %d), and refuses malformed ops cleanly\n",
		mod.Manifest().Name, pairs, len(ops), rounds, seed)
	return nil
}

// checkHistory plays concurrent ops (all made on the empty document) in the given server order
// and checks every peer converges: peer j applied its own op first, then receives the ops the
// server ordered before it (as applied) and rebases them over its pending op (side right: they
// came first), rebasing its pending op over each in turn (side left, as the server does); it
// must end with the server's state after op j.
func checkHistory(ctx context.Context, eng *pluginhost.Engine, empty []byte, history [][]byte) error {
	server, err := eng.Open(ctx, empty)
	if err != nil {
		return fmt.Errorf("engine_open: %w", err)
	}
	defer server.Close(ctx)
	var applied [][]byte // server ops as applied
	states := [][]byte{empty}
	for i, op := range history {
		a, err := server.Apply(ctx, op, applied, wasm.SideLeft)
		if err != nil {
			return fmt.Errorf("server applies op %d %s over %d concurrent: %w", i, op, len(applied), err)
		}
		applied = append(applied, a)
		snap, err := server.Snapshot(ctx)
		if err != nil {
			return fmt.Errorf("engine_snapshot: %w", err)
		}
		states = append(states, snap)
	}
	for j, own := range history {
		if err := checkPeer(ctx, eng, states, applied, own, j); err != nil {
			return fmt.Errorf("peer of op %d (%s) in server order %s: %w", j, own, bytes.Join(history, []byte(" ")), err)
		}
	}
	return nil
}

func checkPeer(ctx context.Context, eng *pluginhost.Engine, states, applied [][]byte, own []byte, j int) error {
	peer, err := eng.Open(ctx, states[0])
	if err != nil {
		return err
	}
	defer peer.Close(ctx)
	if _, err := peer.Apply(ctx, own, nil, wasm.SideLeft); err != nil {
		return fmt.Errorf("apply own op: %w", err)
	}
	pending := own
	for i := 0; i < j; i++ {
		if _, err := peer.Apply(ctx, applied[i], [][]byte{pending}, wasm.SideRight); err != nil {
			return fmt.Errorf("rebase server op %d over own: %w", i, err)
		}
		// pending over applied[i], on a scratch copy of the server's state that includes it
		// (Apply rebases over the concurrent ops, then applies to a state that has them).
		scratch, err := eng.Open(ctx, states[i+1])
		if err != nil {
			return err
		}
		pending, err = scratch.Apply(ctx, pending, [][]byte{applied[i]}, wasm.SideLeft)
		scratch.Close(ctx)
		if err != nil {
			return fmt.Errorf("rebase own op over server op %d: %w", i, err)
		}
	}
	got, err := peer.Snapshot(ctx)
	if err != nil {
		return err
	}
	if want := states[j+1]; !bytes.Equal(got, want) {
		return fmt.Errorf("does not converge: peer has %s, server %s", got, want)
	}
	return nil
}

func checkAuthorizer(ctx context.Context, mod *pluginhost.Module, conf, sample []byte, stdout io.Writer) error {
	a, err := pluginhost.NewAuthorizer(ctx, mod, conf, pluginhost.AuthorizerConfig{Instances: 1})
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	dec := json.NewDecoder(bytes.NewReader(sample))
	n := 0
	for dec.More() {
		var c struct {
			Request authorizer.Request `json:"request"`
			Access  string             `json:"access"`
		}
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("sample %d: %w", n+1, err)
		}
		n++
		d, err := a.Authorize(ctx, c.Request)
		if err != nil {
			return fmt.Errorf("sample %d: authorize: %w", n, err)
		}
		if d.Access != c.Access {
			return fmt.Errorf("sample %d (%s %q): got %s (%s), want %s", n, c.Request.Action, c.Request.DocID, d.Access, d.Reason, c.Access)
		}
	}
	fmt.Fprintf(stdout, "ok: %s answered %d sample requests as expected\n", mod.Manifest().Name, n)
	return nil
}
