package form

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

var fastSeeds = []string{
	`{"set":{"a":1,"b":"x"},"ts":5,"peer":"p1"}`,
	`{"del":["a"],"ts":6,"peer":"p2"}`,
	`{"set":{"f0001":"edit 1"},"ts":1099511627777,"peer":"bench"}`,
	` { "set" : { "a\u0041" : { "x" : [ 1 , 2.5e3 , "<&>\u2028" ] } } , "del" : [ "b" ] , "ts" : 0 , "peer" : "p\u00e9" } `,
	`{"set":{"a":"\u003c\ud800"},"ts":1,"peer":"p"}`,
	`{"set":{"a":1,"a":2},"ts":1,"peer":"p"}`,
	`{"set":{},"ts":1,"peer":"p"}`, `{"del":[],"ts":1,"peer":"p"}`, `{"set":null,"ts":1,"peer":"p"}`,
	`{"del":[null],"ts":1,"peer":"p"}`, `{"set":{"a":1},"ts":-0,"peer":"p"}`, `{"set":{"a":1},"ts":1,"peer":"p","ts":2}`,
	`{"set":{"a":1},"del":["a"],"ts":1,"peer":"p"}`, `{"set":{"":1},"ts":1,"peer":"p"}`, `{"set":{"a":1},"ts":1.0,"peer":"p"}`,
	`{"set":{"a":"\ud83d\ude00 \u2029"},"ts":1,"peer":"\ud800"}`, `{"set":{"a":1},"ts":1,"peer":""}`,
}

// FuzzParseOpFast: whenever the jsonscan fast path accepts an op, encoding/json's path accepts
// it too and decodes the same op (values byte for byte).
func FuzzParseOpFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) || len(b) > MaxOpBytes {
			return
		}
		fast, ok := parseOpFast(b)
		if !ok {
			return
		}
		slow, err := parseOpSlow(b)
		if err != nil {
			t.Fatalf("fast path accepts %s; encoding/json: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("op %s: fast path %#v, encoding/json %#v", b, fast, slow)
		}
	})
}

// The fast path takes the ordinary ops.
func TestParseOpFastTakesTypicalOps(t *testing.T) {
	for _, s := range fastSeeds[:4] {
		if _, ok := parseOpFast([]byte(s)); !ok {
			t.Errorf("fast path refuses %s", s)
		}
	}
}
