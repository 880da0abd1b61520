package json0

import (
	"reflect"
	"testing"
)

var fastSeeds = []string{
	`[{"p":["list",12],"li":{"id":-1,"title":"new"}}]`,
	`[{"p":["list",12],"ld":{"id":-1,"title":"new"}}]`,
	`[{"p":["a"],"oi":1},{"od":[1,{"x":null}],"p":["b"],"oi":"y"},{"p":[0],"lm":3},{"p":["n"],"na":-2.5e3}]`,
	`[{"p":["s",3],"si":"h\u00e9llo \ud83d\ude00"},{"p":["s",0],"sd":"x"},{"p":[],"oi":{}}]`,
	` [ { "p" : [ "a" , 1.0 ] , "ld" : true , "li" : false } ] `, `[]`, `[{"p":["a"],"p":["b"],"oi":1}]`,
	`[{"p":["a"],"oi":1,"od":2,"x":3}]`, `[{"p":[1.5],"li":1}]`, `[{"p":[-1],"li":1}]`, `[{"p":[1e400],"li":1}]`,
	`[{"p":["a"],"t":"text0","o":[{"p":0,"i":"x"}]}]`, `[{"p":["a"]}]`, `[{"oi":1}]`, `[{"p":["a"],"li":1}]`,
	`[{"p":[0],"na":"x"}]`, `[{"p":[0],"si":1}]`, `[{"p":[0],"lm":-1}]`, `[{"p":[0],"lm":1.5}]`, `{"p":[]}`, `[1]`,
	`[{"p":[0,"a",9007199254740993],"li":1}]`, `[{"p":[1e-400],"li":1e-400}]`,
}

// FuzzParseOpFast: whenever the direct fast path accepts an op, the general path accepts it
// too and gives the same op (paths with the same capacity, as they may be appended to; key
// lists are values, compared by DeepEqual).
func FuzzParseOpFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := parseOpFast(b)
		if !ok {
			return
		}
		slow, err := parseOpSlow(b)
		if err != nil {
			t.Fatalf("fast path accepts %s; general path: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("op %s: fast path %#v, general path %#v", b, fast, slow)
		}
		if cap(fast) != cap(slow) {
			t.Fatalf("op %s: capacity %d, general path %d", b, cap(fast), cap(slow))
		}
		for i := range fast {
			if cap(fast[i].P) != cap(slow[i].P) {
				t.Fatalf("op %s: component %d: path capacity %d, general path %d", b, i, cap(fast[i].P), cap(slow[i].P))
			}
		}
	})
}

// The fast path takes the ordinary ops.
func TestParseOpFastTakesTypicalOps(t *testing.T) {
	for _, s := range fastSeeds[:5] {
		if _, ok := parseOpFast([]byte(s)); !ok {
			t.Errorf("fast path refuses %s", s)
		}
	}
}

// appendStringRef is the rune-by-rune encoder appendString replaced: its specification.
func appendStringRef(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

// FuzzAppendString checks appendString against appendStringRef.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `a"b\c/`, "\x00\x01\b\f\n\r\t\x1f\x7f", "é😀\uffff\ufffd\u2028<>&", "\xff\xe2\x80", "a\xc3b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := appendString([]byte("x"), s), appendStringRef([]byte("x"), s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
