package authorizer

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestParseRequest(t *testing.T) {
	t.Parallel()
	ok := `{"action":"join","docId":"notes-1","token":"eyJ\u00e9\ud83d\udc83","headers":{"x-user":"ann"},` +
		`"nowUnixMillis":1795000000000,"extra":[1,{"a":[true,null,-1.5e3]}]}`
	got, err := ParseRequest([]byte(ok))
	want := Request{Action: "join", DocID: "notes-1", Token: "eyJé💃", Headers: map[string]string{"x-user": "ann"}, NowUnixMillis: 1795000000000}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseRequest = %+v, %v", got, err)
	}
	for _, bad := range []string{``, `[]`, `{"action":1}`, `{"headers":{"a":1}}`, `{"nowUnixMillis":1.5}`, `{"nowUnixMillis":"1"}`,
		`{"token":"\ud83d"}`, `{"a":1}x`, `{"a":}`, `{"a":[1,}`, `{"a":tru}`} {
		if _, err := ParseRequest([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRequest(%s) err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestAppendDecision(t *testing.T) {
	t.Parallel()
	d := Decision{Access: "write", Tenant: "acme", Subject: "a\"n\n", Reason: "r", ExpiresAtUnixMillis: 5}
	var back Decision
	if err := json.Unmarshal(AppendDecision(nil, d), &back); err != nil || back != d {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if got := string(AppendDecision(nil, Decision{Access: "none"})); got != `{"access":"none"}` {
		t.Fatalf("got %s", got)
	}
}

// FuzzParseRequest: never panics; agrees with encoding/json on what it accepts.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"action":"join","docId":"d","headers":{"a":"b"},"nowUnixMillis":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			return
		}
		var std Request
		if json.Unmarshal(b, &std) == nil && std.Action != r.Action {
			t.Fatalf("action %q, encoding/json %q", r.Action, std.Action)
		}
	})
}
