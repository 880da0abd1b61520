package authorizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// requestCases are edge cases of the request reader: each is read by ParseRequest, by the
// interning reader the guest uses, and by the old byte-at-a-time reader, which must agree on
// the result or the exact error.
var requestCases = func() []string {
	long := strings.Repeat("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9", 20)
	cs := []string{
		// Accepted.
		`{}`, ` { } `, "\t{\n}\r\n",
		`{"action":"join","docId":"notes-1","token":"t","nowUnixMillis":1795000000000}`,
		`{"action":"read"}`, `{"action":"write"}`, `{"action":"awareness"}`, `{"action":"Join"}`, `{"action":"joinx"}`,
		`{"action":null,"docId":null,"token":null,"headers":null,"nowUnixMillis":null}`,
		`{"token":"` + long + `"}`, `{"token":"` + long + `é"}`, `{"token":"é` + long + `"}`,
		`{"docId":"\"\\\/\b\f\n\r\t","token":"a\u0041\u00e9\u20ac\ud83d\ude00z"}`,
		`{"token":"` + long + `\n` + long + `"}`, `{"token":"\u0000"}`, `{"token":"\uFFFD\uffff"}`,
		`{"docId":"\uD83D\uDE00\uD83D\uDE00"}`,
		`{"docId":"é😀ü"}`, "{\"docId\":\"\xef\xbf\xbd\"}",
		`{"headers":{}}`, `{"headers":{"a":"b","c":null,"a":"d"}}`, `{"headers":{"x-u\u0073er":"ann"},"headers":{"b":"c"}}`,
		`{"headers":{"a":"b"},"headers":null}`,
		`{"nowUnixMillis":0}`, `{"nowUnixMillis":-0}`, `{"nowUnixMillis":007}`, `{"nowUnixMillis":-1795000000000}`,
		`{"nowUnixMillis":9223372036854775807}`, `{"nowUnixMillis":-9223372036854775808}`,
		`{"nowUnixMillis":9223372036854775808}`, `{"nowUnixMillis":-9223372036854775809}`,
		`{"nowUnixMillis":18446744073709551615}`, `{"nowUnixMillis":18446744073709551616}`, `{"nowUnixMillis":99999999999999999999999999}`,
		`{"extra":[1,{"a":[true,null,-1.5e3,"x\"y"]}],"action":"join"}`, `{"extra":1-2+e}`, `{"extra":"\u12"}`,
		`{"action":"a","action":"b"}`, `{"\u0061ction":"join"}`, `{"ACTION":"join"}`,
		`{"t\u006fken":"x","token":"y"}`, `{"\u0061b":["\u0063d",}`, `{"\u0061b":{"\u0063d":1,}}`,
		// Refused.
		``, ` `, `[]`, `null`, `"x"`, `{`, `{"`, `{"a`, `{"a"`, `{"a":`, `{"a":}`, `{"a":1`, `{"a":1,}`, `{,}`, `{"a" 1}`,
		`{"a":1}x`, `{"a":1}{}`, `{"a":[1,}`, `{"a":[1 2]}`, `{"a":tru}`, `{"a":nul}`, `{"a":fals}`, `{"a":+1}`, `{"a":.5}`,
		`{"action":1}`, `{"action":true}`, `{"action":["join"]}`, `{"action":{}}`, `{"action":nul}`, `{"action":"join}`,
		`{"docId":1}`, `{"token":{"a":1}}`, `{"headers":{"a":1}}`, `{"headers":[]}`, `{"headers":"a"}`, `{"headers":{"a":"b",}}`,
		`{"headers":{"a":{"b":"c"}}}`, `{"headers":{1:"a"}}`,
		`{"nowUnixMillis":1.5}`, `{"nowUnixMillis":1e3}`, `{"nowUnixMillis":1E3}`, `{"nowUnixMillis":"1"}`, `{"nowUnixMillis":-}`,
		`{"nowUnixMillis":--1}`, `{"nowUnixMillis":true}`, `{"nowUnixMillis":}`,
		`{"docId":"d\u00"}`, `{"docId":"d\u00zz"}`, `{"docId":"d\uD800\u0041"}`, `{"docId":"d\uDC00"}`, `{"docId":"d\uD800"}`,
		`{"docId":"d\uD800\"}`, `{"docId":"d\uD800\u"}`, `{"docId":"d\uD800\uDBFF"}`, `{"token":"\ud83d"}`, `{"token":"\ud83d\u0041"}`, `{"token":"\q"}`, `{"token":"\u12G4"}`, `{"token":"\`, `{"token":"\u12`,
		"{\"token\":\"a\nb\"}", "{\"token\":\"" + long + "\x01\"}", "{\"token\":\"a\x7fb\"}", "{\"token\":\"\x00\"}",
		"{\"token\":\"\xff\"}", "{\"token\":\"" + long + "\xc3\"}", "{\"token\":\"\xc3\x28\"}", "{\"token\":\"\xed\xa0\x80\"}",
		"{\"token\":\"\xe2\x82\"}", "{\"token\":\"\xe2\x82", "{\"token\":\"\xf4\x90\x80\x80\"}", "{\"token\":\"\xc0\xaf\"}",
		"{\"token\":\"\xff\x01\"}", "{\"token\":\"\x01\xff\"}", "{\"token\":\"\\n\xff\"}", "{\"token\":\"\\n\x01\"}",
		"{\"t\xffoken\":\"x\"}", "{\"\\u0061\xff\":\"x\"}",
		`{"token":"` + long, `{"token":"` + long + `\`, `{"token":"` + long + `\u`,
		`{"extra":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"extra":` + strings.Repeat(`{"a":`, 33) + `1` + strings.Repeat("}", 33) + `}`,
		`{"extra":` + strings.Repeat("[", 33) + strings.Repeat("]", 33) + `}`,
		`{"extra":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`,
	}
	return cs
}()

func TestParseRequestAgainstOld(t *testing.T) {
	t.Parallel()
	var last lastRequest
	for _, c := range requestCases {
		checkRequestAgainstOld(t, []byte(c), &last)
	}
}

// checkRequestAgainstOld fails t when ParseRequest or parseRequest(b, last) differs from the old
// reader in result or error.
func checkRequestAgainstOld(t *testing.T, b []byte, last *lastRequest) {
	t.Helper()
	want, werr := oldParseRequest(b)
	for i, l := range []*lastRequest{nil, last, last} {
		got, err := parseRequest(b, l)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) || !reflect.DeepEqual(got, want) {
			t.Fatalf("reader %d on %q: %+v, %v; the old reader: %+v, %v", i, b, got, err, want, werr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q: error %v does not wrap ErrInvalid", b, err)
		}
	}
}

func TestParseRequestInterns(t *testing.T) {
	var last lastRequest
	b := AppendRequest(nil, Request{Action: "join", DocID: "notes-1", Token: strings.Repeat("x", 600), NowUnixMillis: 1})
	first, err := parseRequest(b, &last)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		r, err := parseRequest(b, &last)
		if err != nil || r.Token != first.Token || r.Action != ActionJoin {
			t.Fatal(r, err)
		}
	}); n != 0 {
		t.Errorf("parseRequest of a repeated request: %v allocations, want 0", n)
	}
	// A changed token is a new string; the old one is untouched.
	b2 := bytes.Replace(b, []byte("xxxx"), []byte("yyyy"), 1)
	second, err := parseRequest(b2, &last)
	if err != nil || second.Token == first.Token || first.Token != strings.Repeat("x", 600) || second.DocID != "notes-1" {
		t.Fatalf("%+v %v (first %.8q)", second, err, first.Token)
	}
	// The input buffer is reused by the next call: strings must not alias it.
	for i := range b2 {
		b2[i] = 'z'
	}
	if second.Token[:4] != "yyyy" {
		t.Fatalf("token aliases the input: %.8q", second.Token)
	}
}

func TestAppendDecisionAllocs(t *testing.T) {
	d := Decision{Access: AccessWrite, Tenant: "acme", Subject: "ann", Reason: `docs grant "notes-*": write`, ExpiresAtUnixMillis: 1795000600000}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendDecision(buf[:0], d) }); n != 0 {
		t.Errorf("AppendDecision: %v allocations, want 0", n)
	}
}

var decisionStrings = []string{"", "none", "read", "write", "Write", "acme", "ann", `a"b`, `a\b`, "a\nb", "\x00", "\x1f", "\x7f",
	"é", "😀", "\xff", "a\xffb", "\xe2\x82", "\xed\xa0\x80", "\uFFFD", "\u2028", "<>&", strings.Repeat("long subject ", 10),
	strings.Repeat("x", 31) + `"`, strings.Repeat("x", 32) + "\xc3", strings.Repeat("é", 20) + "\x01"}

func TestAppendDecisionEdges(t *testing.T) {
	t.Parallel()
	for _, s := range decisionStrings {
		for _, d := range []Decision{
			{Access: s}, {Access: AccessRead, Tenant: s}, {Access: AccessNone, Subject: s, Reason: s, ExpiresAtUnixMillis: -1},
			{Access: AccessWrite, Tenant: s, Subject: s, Reason: s, ExpiresAtUnixMillis: 1<<63 - 1},
		} {
			checkDecision(t, d)
		}
	}
}

// checkDecision compares AppendDecision with the encoding it had (wasm.AppendJSONString for
// every string), and ParseDecision of it with the old reader and encoding/json.
func checkDecision(t *testing.T, d Decision) {
	t.Helper()
	got := AppendDecision([]byte("prefix"), d)
	want := append([]byte("prefix"), oldAppendDecision(d)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendDecision(%+v) = %s, want %s", d, got, want)
	}
	back, err := ParseDecision(got[len("prefix"):])
	old, oerr := oldParseDecision(got[len("prefix"):])
	if err != nil || oerr != nil || back != old {
		t.Fatalf("ParseDecision(%s) = %+v, %v; old %+v, %v", got, back, err, old, oerr)
	}
	var std Decision
	if err := json.Unmarshal(got[len("prefix"):], &std); err != nil {
		t.Fatalf("encoding/json refuses %s: %v", got, err)
	}
	if utf8.ValidString(d.Access+d.Tenant+d.Subject+d.Reason) && (back != d || std != d) {
		t.Fatalf("round trip of %+v: %+v, encoding/json %+v", d, back, std)
	}
}

func TestAppendRequestEdges(t *testing.T) {
	t.Parallel()
	var last lastRequest
	for _, s := range decisionStrings {
		r := Request{Action: s, DocID: s + "d", Token: s + s, Headers: map[string]string{s: s}, NowUnixMillis: -1 << 63}
		b := AppendRequest(nil, r)
		if want := oldAppendRequest(r); !bytes.Equal(b, want) {
			t.Fatalf("AppendRequest(%+v) = %s, want %s", r, b, want)
		}
		checkRequestAgainstOld(t, b, &last)
		if utf8.ValidString(s) {
			got, err := ParseRequest(b)
			var std Request
			if err != nil || !reflect.DeepEqual(got, r) || json.Unmarshal(b, &std) != nil || !reflect.DeepEqual(std, r) {
				t.Fatalf("round trip of %+v: %+v %v, encoding/json %+v", r, got, err, std)
			}
		}
	}
}

func TestParseDecisionAgainstOld(t *testing.T) {
	t.Parallel()
	for _, c := range append([]string{`{"access":"write","tenant":"a\u00e9","subject":null,"reason":"r","expiresAtUnixMillis":-5,"x":[{}]}`,
		`{"access":"read","expiresAtUnixMillis":1.0}`, `{"access":"read","expiresAtUnixMillis":99999999999999999999}`}, requestCases...) {
		checkDecisionReaderAgainstOld(t, []byte(c))
	}
}

func checkDecisionReaderAgainstOld(t *testing.T, b []byte) {
	t.Helper()
	got, err := ParseDecision(b)
	want, werr := oldParseDecision(b)
	if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) || got != want {
		t.Fatalf("ParseDecision(%q) = %+v, %v; the old reader: %+v, %v", b, got, err, want, werr)
	}
}

// FuzzParseRequestAgainstOld: the reader accepts, refuses and reports exactly as the old
// byte-at-a-time one, with and without interning.
func FuzzParseRequestAgainstOld(f *testing.F) {
	for _, c := range requestCases {
		f.Add([]byte(c))
	}
	var last lastRequest
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRequestAgainstOld(t, b, &last)
		checkDecisionReaderAgainstOld(t, b)
	})
}

// FuzzAppendDecision: the encoding is byte for byte the old one, and reads back.
func FuzzAppendDecision(f *testing.F) {
	for _, s := range decisionStrings {
		f.Add(s, s, int64(7))
	}
	f.Fuzz(func(t *testing.T, a, b string, n int64) {
		checkDecision(t, Decision{Access: a, Tenant: b, Subject: a + b, Reason: b + a, ExpiresAtUnixMillis: n})
	})
}

// stdRequest reads b with encoding/json as ParseRequest means to: exact (case-sensitive) keys,
// the last of a repeated key winning. ok is false when encoding/json refuses b.
func stdRequest(b []byte) (r Request, headersNull, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil {
		return Request{}, false, false
	}
	for k, dst := range map[string]any{"action": &r.Action, "docId": &r.DocID, "token": &r.Token, "nowUnixMillis": &r.NowUnixMillis, "headers": &r.Headers} {
		if v, found := m[k]; found && json.Unmarshal(v, dst) != nil {
			return Request{}, false, false
		}
	}
	return r, string(m["headers"]) == "null", true
}

// maxNesting is the deepest nesting of arrays and objects in b, outside strings.
func maxNesting(b []byte) int {
	depth, most, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
			most = max(most, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return most
}

// FuzzParseRequestAgainstJSON: on valid UTF-8 that encoding/json accepts (nested no deeper
// than the reader allows, and without an unpaired surrogate escape, which the reader refuses
// where encoding/json writes U+FFFD), ParseRequest accepts and reads the same request. The reader is laxer
// than encoding/json about numbers (leading zeros in nowUnixMillis; any run of number characters
// in a skipped value, as before), so what it accepts is not compared the other way.
func FuzzParseRequestAgainstJSON(f *testing.F) {
	for _, c := range requestCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		std, headersNull, ok := stdRequest(b)
		if !ok || !utf8.Valid(b) || maxNesting(b) > maxDepth+1 {
			return
		}
		got, err := ParseRequest(b)
		if err != nil && strings.Contains(err.Error(), "unpaired surrogate") {
			return // refused, where encoding/json writes U+FFFD
		}
		if err != nil {
			t.Fatalf("ParseRequest(%q): %v; encoding/json reads %+v", b, err, std)
		}
		if headersNull {
			// A repeated "headers" whose last value is null keeps the earlier object (null
			// leaves the field as it is); encoding/json empties it.
			got.Headers = nil
		}
		if !reflect.DeepEqual(got, std) {
			t.Fatalf("ParseRequest(%q) = %+v; encoding/json %+v", b, got, std)
		}
	})
}

func TestAppendRequestGrowsOnce(t *testing.T) {
	r := Request{Action: "join", DocID: "notes-1", Token: strings.Repeat("t", 700), Headers: map[string]string{"x-user": "ann", "x-b": "c"}, NowUnixMillis: -1 << 63}
	// A race-enabled build (CI runs the tests with -race) allocates once more per call.
	if n := testing.AllocsPerRun(50, func() { AppendRequest(make([]byte, 0, 256), r) }); n > 2+raceAllocs {
		t.Errorf("AppendRequest: %v allocations, want at most %d (the buffer grown once, and the map iterator)", n, 2+raceAllocs)
	}
	if n := testing.AllocsPerRun(50, func() { AppendRequest(nil, Request{Action: "join", NowUnixMillis: -1 << 63}) }); n != 1+raceAllocs {
		t.Errorf("AppendRequest of the longest empty request: %v allocations, want %d", n, 1+raceAllocs)
	}
}

func TestDigits8(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"00000000", "12345678", "99999999", "1795000000000"[:8], "1234567/", "1234567:", "/2345678",
		":2345678", "\xff2345678", "1234\xfa678", "123456\xf97", " 2345678", "1234567\x00", "\x39\x39\x39\x39\x39\x39\x39\x3a"} {
		w := uint64(0)
		for i := 7; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
		all, v := true, uint64(0)
		for i := range 8 {
			all = all && s[i] >= '0' && s[i] <= '9'
			v = v*10 + uint64(s[i]-'0')
		}
		if digits8(w) != all || (all && value8(w) != v) {
			t.Errorf("%q: digits8 %v value8 %d; want %v %d", s, digits8(w), value8(w), all, v)
		}
	}
}
