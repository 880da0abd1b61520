package json0

import (
	"encoding/json"
	"testing"
)

// TestApplyInPlace: on every apply vector ApplyInPlace gives what ot-json0 gives; the same op
// followed by a component that fails leaves the document byte for byte as it was (the undo log
// takes back every change of the earlier components).
func TestApplyInPlace(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	failing := []string{
		`{"p":["no such key","x"],"na":1}`, // not a number
		`{"p":[],"od":null}`,               // deletes the document
	}
	for i, c := range v.Apply {
		got, err := ApplyInPlace(mustValue(t, c.Doc), mustOp(t, c.Op))
		if err != nil {
			t.Fatalf("apply %d: %s %s: %v", i, c.Doc, c.Op, err)
		}
		if s := string(AppendValue(nil, got)); s != c.Out {
			t.Fatalf("apply %d: %s %s:\n got %s\nwant %s", i, c.Doc, c.Op, s, c.Out)
		}
		var comps []json.RawMessage
		if err := json.Unmarshal([]byte(c.Op), &comps); err != nil {
			t.Fatal(err)
		}
		for _, f := range failing {
			b, _ := json.Marshal(append(comps, json.RawMessage(f)))
			op, err := ParseOp(b)
			if err != nil {
				t.Fatal(err)
			}
			doc := mustValue(t, c.Doc)
			if _, err := ApplyInPlace(doc, op); err == nil {
				continue // the earlier components made the last one fit
			}
			if s := string(AppendValue(nil, doc)); s != c.Doc {
				t.Fatalf("apply %d: failed %s left\n%s\nwant\n%s", i, b, s, c.Doc)
			}
		}
	}
}
