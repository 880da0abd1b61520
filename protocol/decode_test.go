package protocol

import (
	"strings"
	"testing"
)

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		codes []Code // "" = ok
	}{
		{"join", `{"type":"join","ref":1,"doc":"a","docType":"text","protocol":1}`, []Code{""}},
		{"join wrong protocol", `{"type":"join","doc":"a","docType":"text","protocol":9}`, []Code{CodeUnsupportedProtocol}},
		{"malformed", `{"type":`, []Code{CodeInvalidMessage}},
		{"not an object", `42`, []Code{CodeInvalidMessage}},
		{"unknown type", `{"type":"dance"}`, []Code{CodeInvalidMessage}},
		{"wrong field type", `{"type":"submit","doc":"a","baseRevision":"x","op":[1],"clientId":"c","seq":1}`, []Code{CodeInvalidMessage}},
		{"submit ok", `{"type":"submit","doc":"a","baseRevision":0,"op":["x"],"clientId":"c","seq":1}`, []Code{""}},
		{"submit no seq", `{"type":"submit","doc":"a","baseRevision":0,"op":["x"],"clientId":"c"}`, []Code{CodeInvalidMessage}},
		{"submit no base", `{"type":"submit","doc":"a","op":["x"],"clientId":"c","seq":1}`, []Code{CodeInvalidMessage}},
		{"batch with one bad", `[{"type":"ping","ref":1},{"type":"nope","ref":2},{"type":"ping","ref":3}]`, []Code{"", CodeInvalidMessage, ""}},
		{"bad array", `[{"type":"ping"},`, []Code{CodeInvalidMessage}},
		{"doc id too long", `{"type":"leave","doc":"` + strings.Repeat("x", 257) + `"}`, []Code{CodeInvalidMessage}},
		{"control char in id", `{"type":"leave","doc":"a\u0001"}`, []Code{CodeInvalidMessage}},
		{"awareness too large", `{"type":"awareness","doc":"a","state":"` + strings.Repeat("x", 70000) + `"}`, []Code{CodeTooLarge}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecodeFrame([]byte(tt.frame), Limits{})
			if len(got) != len(tt.codes) {
				t.Fatalf("got %d messages, want %d", len(got), len(tt.codes))
			}
			for i, d := range got {
				var code Code
				if d.Err != nil {
					code = d.Err.Code
				}
				if code != tt.codes[i] {
					t.Errorf("message %d: code %q, want %q (%v)", i, code, tt.codes[i], d.Err)
				}
			}
		})
	}
}

func TestDecodeKeepsRefOfBadMessage(t *testing.T) {
	got := DecodeFrame([]byte(`{"type":"submit","ref":7,"doc":"a","seq":"x"}`), Limits{})
	if got[0].Err == nil || got[0].Msg.Ref != 7 {
		t.Fatalf("want an error carrying ref 7, got %+v", got[0])
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"join","ref":1,"doc":"a","docType":"text","protocol":1}`))
	f.Add([]byte(`[{"type":"submit","doc":"a","baseRevision":0,"op":["x"],"clientId":"c","seq":1}]`))
	f.Add([]byte(`[1,2,{"type":"ping"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range DecodeFrame(b, Limits{MaxMessagesPerFrame: 16}) {
			if d.Err == nil {
				if err := Validate(&d.Msg, Limits{}); err != nil {
					t.Fatalf("decoded message fails validation: %v", err)
				}
			} else if d.Err.Code == "" {
				t.Fatal("error without a code")
			}
		}
	})
}
