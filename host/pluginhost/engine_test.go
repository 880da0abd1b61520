package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

func TestEngineStateless(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEngine(t, EngineConfig{Instances: 2})
	if e.Manifest().DocType != "counter" {
		t.Errorf("manifest = %+v", e.Manifest())
	}
	if got, err := e.Empty(ctx); err != nil || string(got) != "0" {
		t.Errorf("Empty = %q, %v", got, err)
	}
	if err := e.Validate(ctx, []byte("5")); err != nil {
		t.Errorf("Validate(5) = %v", err)
	}
	err := e.Validate(ctx, []byte("x"))
	var ge *GuestError
	if !errors.Is(err, ErrRejected) || !errors.As(err, &ge) || ge.Message != "invalid op" {
		t.Errorf("Validate(x) = %v; want ErrRejected with the guest's message", err)
	}
	if err := e.Validate(ctx, []byte("fail")); !errors.Is(err, ErrGuest) || errors.Is(err, ErrRejected) {
		t.Errorf("Validate(fail) = %v; want ErrGuest", err)
	}
	got, err := e.Transform(ctx, []byte("5"), [][]byte{[]byte("2"), []byte("3")}, wasm.SideRight)
	if err != nil || string(got) != "1010" {
		t.Errorf("Transform = %q, %v; want 1010", got, err)
	}
	got, err = e.Transform(ctx, []byte("5"), nil, wasm.SideLeft)
	if err != nil || string(got) != "5" {
		t.Errorf("Transform without concurrent ops = %q, %v; want 5", got, err)
	}
	if _, err := e.Transform(ctx, []byte("5"), nil, 2); err == nil {
		t.Error("Transform with side 2 accepted")
	}
	if got, err := e.Compose(ctx, []byte("2"), []byte("3")); err != nil || string(got) != "5" {
		t.Errorf("Compose = %q, %v", got, err)
	}
	noCompose := newTestEngine(t, EngineConfig{Instances: 1})
	noCompose.compose = false // as for a manifest without the capability
	if _, err := noCompose.Compose(ctx, []byte("2"), []byte("3")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Compose without the capability = %v; want ErrUnsupported", err)
	}
}

func TestDocLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEngine(t, EngineConfig{Instances: 2})
	d, err := e.Open(ctx, []byte("7"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		op         string
		concurrent []string
		side       int32
		want       string
	}{
		{"5", nil, wasm.SideLeft, "5"},
		{"1", []string{"2"}, wasm.SideLeft, "3"},
		{"1", []string{"2"}, wasm.SideRight, "1003"},
	}
	for _, s := range steps {
		var cs [][]byte
		for _, c := range s.concurrent {
			cs = append(cs, []byte(c))
		}
		got, err := d.Apply(ctx, []byte(s.op), cs, s.side)
		if err != nil || string(got) != s.want {
			t.Fatalf("Apply(%s, %v, %d) = %q, %v; want %s", s.op, s.concurrent, s.side, got, err, s.want)
		}
	}
	if _, err := d.Apply(ctx, []byte("reject"), nil, 0); !errors.Is(err, ErrRejected) {
		t.Errorf("Apply(reject) = %v; want ErrRejected", err)
	}
	if snap, err := d.Snapshot(ctx); err != nil || string(snap) != "1018" {
		t.Errorf("Snapshot = %q, %v; want 1018", snap, err)
	}
	if _, err := e.Open(ctx, []byte("not a number")); !errors.Is(err, ErrRejected) {
		t.Errorf("Open(bad snapshot) = %v; want ErrRejected", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := d.Snapshot(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Snapshot after Close = %v; want ErrClosed", err)
	}
}

func TestDocPlacement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEngine(t, EngineConfig{Instances: 3})
	var docs []*Doc
	for range 9 {
		d, err := e.Open(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	for i, s := range e.slots {
		if n := s.docs.Load(); n != 3 {
			t.Errorf("slot %d holds %d docs; want 3", i, n)
		}
	}
	for _, d := range docs[:3] {
		_ = d.Close(ctx)
	}
	total := int32(0)
	for _, s := range e.slots {
		total += s.docs.Load()
	}
	if total != 6 {
		t.Errorf("docs after closing 3 = %d; want 6", total)
	}
}

// healthy applies ops to a document on its own engine until stop is closed, and reports the
// first error: the hostile tests run it alongside to show that the host survives.
func healthy(t *testing.T) (stop func()) {
	t.Helper()
	ctx := context.Background()
	e := newTestEngine(t, EngineConfig{Instances: 1})
	d, err := e.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-done:
				snap, err := d.Snapshot(ctx)
				if err == nil && string(snap) != strconv.Itoa(n) {
					err = fmt.Errorf("snapshot %s after %d ops", snap, n)
				}
				result <- err
				return
			default:
			}
			if _, err := d.Apply(ctx, []byte("1"), nil, 0); err != nil {
				result <- err
				return
			}
			n++
			time.Sleep(time.Millisecond)
		}
	}()
	return func() {
		close(done)
		if err := <-result; err != nil {
			t.Errorf("healthy document failed: %v", err)
		}
	}
}

func TestHostileEngine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	stop := healthy(t)
	defer stop()

	tests := []struct {
		name string
		op   string
		cfg  EngineConfig
		want error
	}{
		{"infinite loop", "loop", EngineConfig{CallTimeout: 300 * time.Millisecond}, ErrDeadline},
		{"memory bomb", "bomb", EngineConfig{CallTimeout: 20 * time.Second}, ErrTrap},
		{"panic", "panic", EngineConfig{}, ErrTrap},
		{"oversized output", "big:1000", EngineConfig{MaxOutputBytes: 100}, ErrOutputTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Instances = 2
			e := newTestEngine(t, tt.cfg)
			// A document on each instance.
			a, err := e.Open(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := e.Open(ctx, []byte("40"))
			if err != nil {
				t.Fatal(err)
			}
			if a.s == b.s {
				t.Fatal("documents on one instance")
			}
			start := time.Now()
			_, err = a.Apply(ctx, []byte(tt.op), nil, 0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Apply(%s) = %v; want %v", tt.op, err, tt.want)
			}
			t.Logf("Apply(%s) failed after %v: %v", tt.op, time.Since(start).Round(time.Millisecond), err)
			if _, err := a.Snapshot(ctx); !errors.Is(err, ErrInstanceLost) {
				t.Errorf("Snapshot of a document on the lost instance = %v; want ErrInstanceLost", err)
			}
			if _, err := a.Apply(ctx, []byte("1"), nil, 0); !errors.Is(err, ErrInstanceLost) {
				t.Errorf("Apply on the lost instance = %v; want ErrInstanceLost", err)
			}
			if err := a.Close(ctx); err != nil {
				t.Errorf("Close of a lost document = %v", err)
			}
			// The other instance's document is untouched.
			if got, err := b.Apply(ctx, []byte("2"), nil, 0); err != nil || string(got) != "2" {
				t.Errorf("other instance's Apply = %q, %v", got, err)
			}
			if snap, err := b.Snapshot(ctx); err != nil || string(snap) != "42" {
				t.Errorf("other instance's Snapshot = %q, %v; want 42", snap, err)
			}
			// Stateless calls (hostile ones too) fail alone; the next call works.
			if err := e.Validate(ctx, []byte(tt.op)); !errors.Is(err, tt.want) {
				t.Errorf("Validate(%s) = %v; want %v", tt.op, err, tt.want)
			}
			for range 4 {
				if err := e.Validate(ctx, []byte("1")); err != nil {
					t.Errorf("Validate after failure = %v", err)
				}
			}
			// Reopen the lost document on a fresh instance.
			a2, err := e.Open(ctx, []byte("5"))
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			if snap, err := a2.Snapshot(ctx); err != nil || string(snap) != "5" {
				t.Errorf("reopened Snapshot = %q, %v", snap, err)
			}
		})
	}
}

func TestOutputUnderBound(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, EngineConfig{Instances: 1, MaxOutputBytes: 100})
	if got, err := e.Transform(context.Background(), []byte("big:100"), nil, 0); err != nil || len(got) != 100 {
		t.Errorf("Transform(big:100) = %d bytes, %v; want 100 bytes", len(got), err)
	}
}

func TestContextCancelStopsGuest(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, EngineConfig{Instances: 1, CallTimeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := e.Validate(ctx, []byte("loop"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Validate(loop) = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := e.Validate(ctx, []byte("loop")); !errors.Is(err, ErrDeadline) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Validate(loop) with a parent deadline = %v; want ErrDeadline", err)
	}
	if err := e.Validate(context.Background(), []byte("1")); err != nil {
		t.Errorf("Validate after cancel = %v", err)
	}
}

func TestGuestOutputLogged(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t, EngineConfig{Instances: 1})
	if err := e.Validate(context.Background(), []byte("print")); err != nil {
		t.Fatal(err)
	}
	logs := testLogs.String()
	if !strings.Contains(logs, "hello from the guest") || !strings.Contains(logs, "module=engine") {
		t.Errorf("guest stdout not logged with the module name; logs:\n%s", logs)
	}
}

func TestEngineClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEngine(t, EngineConfig{Instances: 1})
	d, err := e.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Empty(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Empty after Close = %v", err)
	}
	if _, err := e.Open(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close = %v", err)
	}
	if _, err := d.Apply(ctx, []byte("1"), nil, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after engine Close = %v", err)
	}
}

func TestConcurrentDocs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEngine(t, EngineConfig{Instances: 2})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			d, err := e.Open(ctx, []byte(strconv.Itoa(g)))
			if err != nil {
				t.Error(err)
				return
			}
			defer d.Close(ctx)
			for range 50 {
				if _, err := d.Apply(ctx, []byte("2"), [][]byte{[]byte("1")}, 0); err != nil {
					t.Error(err)
					return
				}
				if err := e.Validate(ctx, []byte("3")); err != nil {
					t.Error(err)
					return
				}
			}
			if snap, err := d.Snapshot(ctx); err != nil || string(snap) != strconv.Itoa(g+150) {
				t.Errorf("doc %d snapshot = %s, %v", g, snap, err)
			}
		})
	}
	wg.Wait()
}

// TestTrapsUnderLoad has documents applying ops while stateless calls keep trapping their
// instances: each owner sees only ErrInstanceLost, reopens from its own copy of the state (as
// the document actor reloads from storage) and ends with the right snapshot.
func TestTrapsUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newTestEngine(t, EngineConfig{Instances: 2})
	var wg sync.WaitGroup
	lost := make([]int, 4)
	for g := range 4 {
		wg.Go(func() {
			n := 0
			d, err := e.Open(ctx, nil)
			if err != nil {
				t.Error(err)
				return
			}
			for range 1000 {
				_, err := d.Apply(ctx, []byte("1"), nil, 0)
				switch {
				case err == nil:
					n++
				case errors.Is(err, ErrInstanceLost):
					lost[g]++
					if d, err = e.Open(ctx, []byte(strconv.Itoa(n))); err != nil {
						t.Error(err)
						return
					}
				default:
					t.Errorf("doc %d: %v", g, err)
					return
				}
			}
			if snap, err := d.Snapshot(ctx); err != nil || string(snap) != strconv.Itoa(n) {
				t.Errorf("doc %d: snapshot %s, %v; want %d", g, snap, err, n)
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			if err := e.Validate(ctx, []byte("panic")); !errors.Is(err, ErrTrap) {
				t.Errorf("Validate(panic) = %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	t.Logf("documents lost (and reopened) per owner: %v", lost)
}

// TestSandbox checks what a guest sees: no files, no environment, no arguments, and not the
// host's wall clock.
func TestSandbox(t *testing.T) {
	t.Setenv("OPSTREAM_TEST_SECRET", "x") // must not reach the guest
	e := newTestEngine(t, EngineConfig{Instances: 1})
	err := e.Validate(context.Background(), []byte("sandbox"))
	var ge *GuestError
	if !errors.As(err, &ge) {
		t.Fatalf("Validate(sandbox) = %v", err)
	}
	year := strconv.Itoa(time.Now().Year())
	if !strings.HasPrefix(ge.Message, "fs=false env=0 args=0 year=") || strings.HasSuffix(ge.Message, year) {
		t.Errorf("guest sees %q; want no files, env or args, and a fake clock", ge.Message)
	}
	t.Logf("guest sees: %s", ge.Message)
}
