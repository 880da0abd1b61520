package jsonscan

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

var marshalSeeds = []string{
	"", "plain", `a"b\c/d`, "<script>&amp;</script>", "\u2028\u2029\u2027\u202a", "\x00\x01\b\f\n\r\t\x1f\x7f",
	"é😀\uffff\ufffd", "\xff\xfe", "\xe2\x80", "\xe2\x80\xa8x", "a\xc3", "\xed\xa0\x80", "k00001", "title",
}

// FuzzMarshalString checks AppendMarshalString against json.Marshal of a string.
func FuzzMarshalString(f *testing.F) {
	for _, s := range marshalSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendMarshalString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendMarshalString(%q) = %s, json.Marshal writes %s", s, got[1:], want)
		}
	})
}

// FuzzMarshalRaw checks MarshalRaw against json.Marshal(json.RawMessage(b)): a value MarshalRaw
// accepts comes out byte for byte as encoding/json writes it.
func FuzzMarshalRaw(f *testing.F) {
	for _, s := range marshalSeeds {
		b, _ := json.Marshal(s)
		f.Add(b)
		f.Add([]byte(`{"` + s + `" : [ 1 , "` + s + `" ]}`))
	}
	for _, s := range []string{
		`{"a": [1, -2.5e+3, true, false, null, "x\u00e9\ud83d\ude00\n"]}`, ` "a\"b\\c\/<>&" `, "\"\u2028 \u2029\"",
		`{"b":1,"a":2}`, `"\u003c\u2028"`, ` [ ] `, `{ }`, `1E+05`, `-0`, `"\ud800"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(b)
		got, _, err := s.MarshalRaw([]byte("x"), nil, "v")
		if err == nil {
			err = s.End("v")
		}
		if err != nil {
			if json.Valid(b) && utf8.Valid(b) && depth(b) <= MaxDepth {
				t.Fatalf("MarshalRaw(%q): %v; encoding/json accepts it", b, err)
			}
			return
		}
		want, err := json.Marshal(json.RawMessage(b))
		if err != nil {
			t.Fatalf("MarshalRaw(%q) accepted; json.Marshal: %v", b, err)
		}
		if string(got) != "x"+string(want) {
			t.Fatalf("MarshalRaw(%q) = %s, json.Marshal writes %s", b, got[1:], want)
		}
	})
}
