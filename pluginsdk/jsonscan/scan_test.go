package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzValue checks the reader against encoding/json: a value is accepted exactly when json.Valid
// accepts it (and it is valid UTF-8, nested at most MaxDepth deep), and it comes out as
// json.Compact writes it; a string decodes as json.Unmarshal decodes it.
func FuzzValue(f *testing.F) {
	for _, s := range []string{
		`{"a": [1, -2.5e+3, true, false, null, "x\u00e9\ud83d\ude00\n"]}`, ` "a\"b\\c\/" `, `01`, `1.`, `-`, `[1,]`,
		`{"a":1,}`, `{"a" 1}`, `"\ud800"`, `"\x"`, "\"\x01\"", `[[[[]]]]`, `1e5`, `-0.0E-0`, `tru`, `nulll`, `{} {}`,
		"\"\xff\"", `"\u00"`, `{"k":"v"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(b)
		got, err := s.Value(nil, "v")
		if err == nil {
			err = s.End("v")
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
		want := json.Valid(b) && utf8.Valid(b)
		if want && err != nil && depth(b) <= MaxDepth {
			t.Fatalf("value(%q): %v; encoding/json accepts it", b, err)
		}
		if err == nil {
			if !want {
				t.Fatalf("value(%q) accepted; encoding/json refuses it", b)
			}
			var c bytes.Buffer
			if e := json.Compact(&c, b); e != nil || c.String() != string(got) {
				t.Fatalf("value(%q) = %q; json.Compact %q", b, got, c.Bytes())
			}
		}
		// Strings: the decoder must agree with json.Unmarshal on valid UTF-8.
		s = New(b)
		if str, err := s.Str("s"); err == nil && s.End("s") == nil {
			var ref string
			if e := json.Unmarshal(b, &ref); e != nil || ref != str {
				t.Fatalf("str(%q) = %q; json.Unmarshal %q (%v)", b, str, ref, e)
			}
		}
	})
}

// depth returns the bracket nesting of b, ignoring strings.
func depth(b []byte) int {
	d, m, in := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == '[' || c == '{'):
			d++
			m = max(m, d)
		case !in && (c == ']' || c == '}'):
			d--
		}
	}
	return m
}
