package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opstream/opstream/client"
	"github.com/opstream/opstream/client/undo"
	"github.com/opstream/opstream/plugins/transforms/form"
	"github.com/opstream/opstream/plugins/transforms/json0"
	"github.com/opstream/opstream/plugins/transforms/richtext"
	"github.com/opstream/opstream/plugins/transforms/text"
)

// undoCase is one engine under TestUndoThreeClients: how to insert a token at the start or the
// end of a document, and which tokens a document holds.
type undoCase struct {
	docType string
	t       undo.Type
	init    string // first op, on the empty document
	insert  func(doc []byte, token string, atEnd bool) (json.RawMessage, error)
	tokens  func(doc []byte) ([]string, error)
	// format, when set, is an op on doc that changes every character's formatting;
	// formatted reports whether any character of doc has it.
	format    func(doc []byte) (json.RawMessage, error)
	formatted func(doc []byte) bool
	// setTitle, when set, is an op that sets a field every peer writes; title reads it.
	setTitle func(value string) json.RawMessage
	title    func(doc []byte) string
}

var tokenRE = regexp.MustCompile(`<\d:\d+>`)

func undoCases() []undoCase {
	// The form engine's stamps: one clock for the three editors, above every stamp they see.
	var clock atomic.Int64
	stamp := func() (int64, string) { return clock.Add(1), "undo" }
	return []undoCase{
		{
			docType: "text", t: text.Type(), init: `["|"]`,
			insert: func(doc []byte, tok string, atEnd bool) (json.RawMessage, error) {
				s, err := text.ParseSnapshot(doc)
				if err != nil || !atEnd {
					return fmt.Appendf(nil, "[%q]", tok), err
				}
				return fmt.Appendf(nil, "[%d,%q]", len([]rune(s)), tok), nil
			},
			tokens: func(doc []byte) ([]string, error) {
				s, err := text.ParseSnapshot(doc)
				return tokenRE.FindAllString(s, -1), err
			},
		},
		{
			docType: "rich-text", t: richtext.Type(), init: `{"ops":[{"insert":"\n"}]}`,
			insert: func(doc []byte, tok string, atEnd bool) (json.RawMessage, error) {
				d, err := richtext.ParseSnapshot(doc)
				if err != nil || !atEnd || d.Length() <= 1 {
					return fmt.Appendf(nil, `{"ops":[{"insert":%q}]}`, tok), err
				}
				// Before the final newline, as Quill keeps it.
				return fmt.Appendf(nil, `{"ops":[{"retain":%d},{"insert":%q}]}`, d.Length()-1, tok), nil
			},
			tokens: func(doc []byte) ([]string, error) {
				s, err := richPlain(doc)
				return tokenRE.FindAllString(s, -1), err
			},
			format: func(doc []byte) (json.RawMessage, error) {
				d, err := richtext.ParseSnapshot(doc)
				return fmt.Appendf(nil, `{"ops":[{"retain":%d,"attributes":{"bold":true}}]}`, d.Length()), err
			},
			formatted: func(doc []byte) bool { return strings.Contains(string(doc), `"bold"`) },
		},
		{
			docType: "json0", t: json0.Type(), init: `[{"p":[],"oi":{"list":[]}}]`,
			insert: func(doc []byte, tok string, atEnd bool) (json.RawMessage, error) {
				var d struct{ List []string }
				if err := json.Unmarshal(doc, &d); err != nil {
					return nil, err
				}
				i := 0
				if atEnd {
					i = len(d.List)
				}
				return fmt.Appendf(nil, `[{"p":["list",%d],"li":%q}]`, i, tok), nil
			},
			tokens: func(doc []byte) ([]string, error) {
				var d struct{ List []string }
				err := json.Unmarshal(doc, &d)
				return d.List, err
			},
		},
		{
			docType: "form", t: form.NewType(stamp), init: `{"set":{"title":"t"},"ts":0,"peer":"init"}`,
			insert: func(_ []byte, tok string, _ bool) (json.RawMessage, error) {
				ts, peer := stamp()
				return fmt.Appendf(nil, `{"set":{%q:true},"ts":%d,"peer":%q}`, tok, ts, peer), nil
			},
			tokens: func(doc []byte) ([]string, error) {
				var d struct {
					Fields map[string]struct{ V json.RawMessage }
				}
				err := json.Unmarshal(doc, &d)
				var toks []string
				for name, f := range d.Fields {
					if f.V != nil && tokenRE.MatchString(name) {
						toks = append(toks, name)
					}
				}
				return toks, err
			},
			setTitle: func(v string) json.RawMessage {
				ts, peer := stamp()
				return fmt.Appendf(nil, `{"set":{"title":%q},"ts":%d,"peer":%q}`, v, ts, peer)
			},
			title: func(doc []byte) string {
				var d struct {
					Fields map[string]struct{ V string }
				}
				_ = json.Unmarshal(doc, &d)
				return d.Fields["title"].V
			},
		},
	}
}

// richPlain returns the text of a rich-text snapshot.
func richPlain(doc []byte) (string, error) {
	var d struct {
		Ops []struct {
			Insert any `json:"insert"`
		} `json:"ops"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, o := range d.Ops {
		if s, ok := o.Insert.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String(), nil
}

// TestUndoThreeClients: three real clients edit one document concurrently over WebSocket through
// the real server; one client's undo removes only its own change, rebased over the others'
// concurrent edits, which all remain; redo brings the change back. For text, rich-text, json0
// and form (a CRDT: its undo is the old value with a fresh stamp).
func TestUndoThreeClients(t *testing.T) {
	plugins, _ := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins"))
	s := startServer(t, "", "--config", writeConfig(t, fmt.Sprintf(`plugins:
  engines:
    json0: {module: %s/json0.wasm}
    rich-text: {module: %s/rich-text.wasm}
    form: {module: %s/form.wasm}
`, plugins, plugins, plugins)))
	for _, tc := range undoCases() {
		t.Run(tc.docType, func(t *testing.T) {
			t.Parallel()
			testUndo(t, s, tc)
		})
	}
}

func testUndo(t *testing.T, s *server, tc undoCase) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	docID := "undo-" + tc.docType
	eds := make([]*undo.Editor, 3)
	var (
		runs  sync.WaitGroup
		conns []*client.Conn
	)
	defer func() { // stop the editors before their connections
		cancel()
		runs.Wait()
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range eds {
		c, err := client.Dial(ctx, s.wsURL(), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		d, err := c.Join(ctx, docID, tc.docType)
		if err != nil {
			t.Fatal(err)
		}
		eds[i] = undo.New(d, tc.t, undo.Options{})
		runs.Add(1)
		go func(e *undo.Editor) {
			defer runs.Done()
			if err := e.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s: editor stopped: %v", docID, err)
			}
		}(eds[i])
	}
	if err := eds[0].Submit(json.RawMessage(tc.init)); err != nil {
		t.Fatal(err)
	}
	converge(t, ctx, eds)

	// Everyone inserts tokens concurrently; each must remain.
	var (
		mu   sync.Mutex
		want []string
	)
	insert := func(i, k int, rnd *rand.Rand) {
		tok := fmt.Sprintf("<%d:%d>", i, k)
		atEnd := rnd.IntN(2) == 0
		if err := eds[i].Edit(func(doc []byte) (json.RawMessage, error) { return tc.insert(doc, tok, atEnd) }); err != nil {
			t.Errorf("editor %d insert %s: %v", i, tok, err)
		}
		mu.Lock()
		want = append(want, tok)
		mu.Unlock()
	}
	concurrently(eds, func(i int, rnd *rand.Rand) {
		for k := range 6 {
			insert(i, k, rnd)
			time.Sleep(time.Duration(rnd.IntN(3)) * time.Millisecond)
		}
	})
	converge(t, ctx, eds)
	checkTokens(t, tc, eds[0].Doc(), want)

	// Editor 1 undoes its last two inserts while the others keep inserting.
	concurrently(eds, func(i int, rnd *rand.Rand) {
		for k := 6; k < 9; k++ {
			if i == 1 {
				if ok, err := eds[1].Undo(); !ok || err != nil {
					t.Errorf("undo: %v %v", ok, err)
				}
				if k == 7 {
					return
				}
			} else {
				insert(i, k, rnd)
			}
			time.Sleep(time.Duration(rnd.IntN(3)) * time.Millisecond)
		}
	})
	converge(t, ctx, eds)
	want = slices.DeleteFunc(want, func(s string) bool { return s == "<1:5>" || s == "<1:4>" })
	checkTokens(t, tc, eds[2].Doc(), want)

	// Redo brings the last undone insert back, again with concurrent inserts.
	concurrently(eds, func(i int, rnd *rand.Rand) {
		if i == 1 {
			if ok, err := eds[1].Redo(); !ok || err != nil {
				t.Errorf("redo: %v %v", ok, err)
			}
			return
		}
		insert(i, 9, rnd)
	})
	converge(t, ctx, eds)
	want = append(want, "<1:4>")
	checkTokens(t, tc, eds[0].Doc(), want)

	if tc.setTitle != nil {
		// Editor 0 sets the title, then editor 2 sets it again: editor 0's undo must not revert
		// editor 2's newer edit. The title step has nothing left to undo, so the undo reverts
		// editor 0's change before it, its last insert (<0:9>).
		if err := eds[0].Submit(tc.setTitle("mine")); err != nil {
			t.Fatal(err)
		}
		converge(t, ctx, eds)
		if err := eds[2].Submit(tc.setTitle("theirs")); err != nil {
			t.Fatal(err)
		}
		converge(t, ctx, eds)
		if ok, err := eds[0].Undo(); err != nil {
			t.Fatalf("undo: %v %v", ok, err)
		}
		converge(t, ctx, eds)
		if got := tc.title(eds[1].Doc()); got != "theirs" {
			t.Fatalf("after editor 0's undo the title is %q; want editor 2's %q", got, "theirs")
		}
		want = slices.DeleteFunc(want, func(s string) bool { return s == "<0:9>" })
		checkTokens(t, tc, eds[1].Doc(), want)
	}
	if tc.format == nil {
		return
	}
	// Editor 2 formats everything while editor 0 inserts; editor 2's undo removes the
	// formatting it applied and nothing else.
	concurrently(eds, func(i int, rnd *rand.Rand) {
		switch i {
		case 2:
			if err := eds[2].Edit(tc.format); err != nil {
				t.Errorf("format: %v", err)
			}
		case 0:
			insert(0, 10, rnd)
		}
	})
	converge(t, ctx, eds)
	if !tc.formatted(eds[1].Doc()) {
		t.Fatalf("formatting missing: %s", eds[1].Doc())
	}
	concurrently(eds, func(i int, rnd *rand.Rand) {
		switch i {
		case 2:
			if ok, err := eds[2].Undo(); !ok || err != nil {
				t.Errorf("undo format: %v %v", ok, err)
			}
		case 0:
			insert(0, 11, rnd)
		}
	})
	converge(t, ctx, eds)
	if doc := eds[1].Doc(); tc.formatted(doc) {
		t.Fatalf("undo left formatting: %s", doc)
	}
	checkTokens(t, tc, eds[0].Doc(), want)
}

// concurrently runs f for every editor at once and waits.
func concurrently(eds []*undo.Editor, f func(i int, rnd *rand.Rand)) {
	var wg sync.WaitGroup
	for i := range eds {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f(i, rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))))
		}(i)
	}
	wg.Wait()
}

// converge waits until every editor has its ops acknowledged, the same revision and the same
// document.
func converge(t *testing.T, ctx context.Context, eds []*undo.Editor) {
	t.Helper()
	for {
		same := true
		for _, e := range eds {
			same = same && e.Synced() && e.Revision() == eds[0].Revision() && string(e.Doc()) == string(eds[0].Doc())
		}
		if same {
			return
		}
		select {
		case <-ctx.Done():
			for i, e := range eds {
				t.Logf("editor %d at %d synced %v: %s", i, e.Revision(), e.Synced(), e.Doc())
			}
			t.Fatal("editors did not converge")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// checkTokens checks that doc holds exactly the tokens want, in any order.
func checkTokens(t *testing.T, tc undoCase, doc []byte, want []string) {
	t.Helper()
	got, err := tc.tokens(doc)
	if err != nil {
		t.Fatalf("tokens of %s: %v", doc, err)
	}
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("document %s\n holds %v\n want  %v", doc, got, want)
	}
}
