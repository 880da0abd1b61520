package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

var fastSamples = []string{
	`{"type":"op","doc":"d","revision":12,"op":[3,"x",{"d":2}],"clientId":"c1","seq":7}`,
	`{"type":"ack","ref":5,"doc":"d","revision":13,"clientId":"c1","seq":8,"duplicate":true}`,
	`{"type":"submit","ref":1,"doc":"doc","baseRevision":0,"op":["hi \"there\""],"clientId":"c","seq":1}`,
	`{"type":"awareness","doc":"d","peer":"p1","state":{"cursor":{"a":1,"b":[1,2]}}}`,
	`{"type":"awareness","doc":"d","peer":"p1","state":null}`,
	`{"type":"error","ref":3,"doc":"d","code":"InvalidOp","message":"bad","closed":true}`,
	` { "type" : "ping" , "ref" : 9 } `,
	`{"type":"joined","ref":1,"doc":"d","revision":0,"snapshot":"","peerId":"n-1","access":"write"}`,
	`{}`,
}

func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	for _, in := range fastSamples {
		var fast, slow Message
		if err := DecodeMessage([]byte(in), &fast); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if err := json.Unmarshal([]byte(in), &slow); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(fast), normalize(slow)) {
			t.Errorf("%s:\nfast %+v\nslow %+v", in, fast, slow)
		}
	}
}

func TestDecodeFastTakesTheFastPath(t *testing.T) {
	var m Message
	if !decodeFast([]byte(fastSamples[0]), &m) || string(m.Op) != `[3,"x",{"d":2}]` || *m.Revision != 12 {
		t.Fatalf("op message not decoded fast: %+v", m)
	}
}

func TestSplitBatch(t *testing.T) {
	parts, ok := SplitBatch([]byte(` [ {"a":"]"} , 1, "x,y", [1,[2]] ] `))
	if !ok || len(parts) != 4 || string(parts[0]) != `{"a":"]"}` || string(parts[2]) != `"x,y"` || string(parts[3]) != `[1,[2]]` {
		t.Fatalf("%q %v", parts, ok)
	}
	for _, bad := range []string{`[1,`, `[1 2]`, `[`, `{}`, `[1],`} {
		if _, ok := SplitBatch([]byte(bad)); ok {
			t.Errorf("accepted %s", bad)
		}
	}
}

// normalize maps the two spellings of an absent raw value to one.
func normalize(m Message) Message {
	for _, p := range []*json.RawMessage{&m.Op, &m.State, &m.Snapshot} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return m
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Message
		if !decodeFast(b, &fast) {
			return
		}
		var slow Message
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted what encoding/json refuses (%v): %q", err, b)
		}
		if !reflect.DeepEqual(normalize(fast), normalize(slow)) {
			t.Fatalf("%q:\nfast %+v\nslow %+v", b, fast, slow)
		}
	})
}
