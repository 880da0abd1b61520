package undo_test

import (
	"testing"

	"github.com/opstream/opstream/client/undo"
	"github.com/opstream/opstream/plugins/transforms/form"
	"github.com/opstream/opstream/plugins/transforms/json0"
	"github.com/opstream/opstream/plugins/transforms/richtext"
	"github.com/opstream/opstream/plugins/transforms/text"
	"github.com/opstream/opstream/pluginsdk/engine"
)

// peer is one side of a two-peer edit made without a server: own ops are recorded, the other
// peer's (concurrent) op is transformed over them the way Editor does.
type peer struct {
	t    undo.Type
	doc  []byte
	hist *undo.History
}

func (p *peer) own(t *testing.T, op string) {
	t.Helper()
	before := p.doc
	doc, err := p.t.Apply(p.doc, []byte(op))
	if err != nil {
		t.Fatalf("apply own %s to %s: %v", op, p.doc, err)
	}
	if err := p.hist.Record([]byte(op), before); err != nil {
		t.Fatalf("record %s: %v", op, err)
	}
	p.doc = doc
}

// remote applies another peer's op made on the document as it was before ownSince (this peer's
// ops since), transformed over them with the server's sides.
func (p *peer) remote(t *testing.T, op string, ownSince ...string) {
	t.Helper()
	r := []byte(op)
	for _, o := range ownSince {
		var err error
		if r, err = p.t.Transform(r, []byte(o), engine.Right); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := p.t.Apply(p.doc, r)
	if err != nil {
		t.Fatalf("apply remote %s to %s: %v", r, p.doc, err)
	}
	if err := p.hist.Rebase(r); err != nil {
		t.Fatalf("rebase over %s: %v", r, err)
	}
	p.doc = doc
}

func (p *peer) step(t *testing.T, redo bool, want string) {
	t.Helper()
	f := p.hist.Undo
	if redo {
		f = p.hist.Redo
	}
	op, ok, err := f(p.doc)
	if err != nil || !ok {
		t.Fatalf("undo/redo on %s: ok %v, %v", p.doc, ok, err)
	}
	doc, err := p.t.Apply(p.doc, op)
	if err != nil {
		t.Fatalf("apply undo/redo %s to %s: %v", op, p.doc, err)
	}
	if string(doc) != want {
		t.Fatalf("undo/redo %s on %s gives %s; want %s", op, p.doc, doc, want)
	}
	p.doc = doc
}

func TestHistory(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		t          undo.Type
		doc        string
		own1, own2 string
		remote     string // concurrent with own1 and own2, on doc
		afterUndo2 string // own2 undone, remote kept
		afterUndo1 string // both undone
		afterRedo1 string
	}{
		{
			name: "text", t: text.Type(), doc: `"hello world"`,
			own1: `[5,","]`, own2: `[12,"!"]`, remote: `[6,{"d":5},"there"]`,
			afterUndo2: `"hello, there"`, afterUndo1: `"hello there"`, afterRedo1: `"hello, there"`,
		},
		{
			name: "rich-text", t: richtext.Type(), doc: `{"ops":[{"insert":"hello world\n"}]}`,
			own1: `{"ops":[{"retain":5,"attributes":{"bold":true}}]}`, own2: `{"ops":[{"delete":1}]}`,
			remote:     `{"ops":[{"insert":"Oh, "}]}`,
			afterUndo2: `{"ops":[{"insert":"Oh, "},{"insert":"hello","attributes":{"bold":true}},{"insert":" world\n"}]}`,
			afterUndo1: `{"ops":[{"insert":"Oh, hello world\n"}]}`,
			afterRedo1: `{"ops":[{"insert":"Oh, "},{"insert":"hello","attributes":{"bold":true}},{"insert":" world\n"}]}`,
		},
		{
			name: "json0", t: json0.Type(), doc: `{"list":[1,2],"n":1}`,
			own1: `[{"p":["n"],"na":5}]`, own2: `[{"p":["list",0],"ld":1}]`, remote: `[{"p":["list",0],"li":0},{"p":["n"],"na":10}]`,
			// The restored item and the remote insert tie at index 0: the undo (Left) goes first.
			afterUndo2: `{"list":[1,0,2],"n":16}`, afterUndo1: `{"list":[1,0,2],"n":11}`, afterRedo1: `{"list":[1,0,2],"n":16}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &peer{t: tc.t, doc: []byte(tc.doc), hist: undo.NewHistory(tc.t, 0)}
			p.own(t, tc.own1)
			p.own(t, tc.own2)
			// The server ordered remote first: it reaches this peer transformed over own1, own2.
			p.remote(t, tc.remote, tc.own1, tc.own2)
			p.step(t, false, tc.afterUndo2)
			p.step(t, false, tc.afterUndo1)
			if _, ok, _ := p.hist.Undo(p.doc); ok {
				t.Fatal("a third undo found something to undo")
			}
			p.step(t, true, tc.afterRedo1)
		})
	}
}

// TestHistoryCRDT: a form undo restores this peer's field and leaves alone a field another
// peer wrote since; its restamped inverse wins over the op it undoes.
func TestHistoryCRDT(t *testing.T) {
	t.Parallel()
	ts := int64(10)
	ty := form.NewType(func() (int64, string) { ts++; return ts, "me" })
	p := &peer{t: ty, doc: []byte(`{"fields":{}}`), hist: undo.NewHistory(ty, 0)}
	p.own(t, `{"set":{"title":"a","color":"red"},"ts":1,"peer":"me"}`)
	p.own(t, `{"set":{"title":"b","color":"blue"},"ts":2,"peer":"me"}`)
	p.remote(t, `{"set":{"color":"green"},"ts":3,"peer":"you"}`)
	p.step(t, false, `{"fields":{"color":{"v":"green","ts":3,"peer":"you"},"title":{"v":"a","ts":11,"peer":"me"}}}`)
	p.step(t, false, `{"fields":{"color":{"v":"green","ts":3,"peer":"you"},"title":{"del":true,"ts":12,"peer":"me"}}}`)
	p.step(t, true, `{"fields":{"color":{"v":"green","ts":3,"peer":"you"},"title":{"v":"a","ts":13,"peer":"me"}}}`)
}

// TestHistorySkipsStepsOthersUndid: when another peer deleted the text this peer inserted, the
// undo of that insert has nothing left to do and is skipped: Undo reverts the change before it.
func TestHistorySkipsStepsOthersUndid(t *testing.T) {
	t.Parallel()
	ty := text.Type()
	p := &peer{t: ty, doc: []byte(`"abc"`), hist: undo.NewHistory(ty, 0)}
	p.own(t, `[3,"d"]`)                               // "abcd"
	p.own(t, `[1,"XY"]`)                              // "aXYbcd"
	p.remote(t, `[1,{"d":2}]`, `[3,"d"]`, `[1,"XY"]`) // another peer deleted "bc", concurrently
	if string(p.doc) != `"aXYd"` {
		t.Fatalf("doc %s", p.doc)
	}
	p.step(t, false, `"ad"`)   // undoes the insert of XY
	p.remote(t, `[1,{"d":1}]`) // another peer deletes "d": the first insert is gone
	if _, ok, err := p.hist.Undo(p.doc); ok || err != nil {
		t.Fatalf("Undo of an insert another peer deleted: ok %v, %v; want nothing to undo", ok, err)
	}
}
