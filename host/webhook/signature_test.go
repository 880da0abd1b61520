package webhook

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef-secret"
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"doc.deleted"}`)
	good := Sign(secret, now, body)
	if !strings.HasPrefix(good, "t=1800000000,v1=") || len(good) != len("t=1800000000,v1=")+64 {
		t.Fatalf("Sign = %q, want t=<unix>,v1=<64 hex digits>", good)
	}
	cases := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"good", secret, good, body, now, nil},
		{"good within tolerance", secret, good, body, now.Add(4 * time.Minute), nil},
		{"rotated secret: one of two v1 matches", secret, Sign("old-secret-0123456789", now, body) + ",v1=" + strings.Split(good, "v1=")[1], body, now, nil},
		{"tampered body", secret, good, []byte(`{"id":"evt_2","type":"doc.deleted"}`), now, ErrSignatureMismatch},
		{"wrong secret", "another-secret-123456", good, body, now, ErrSignatureMismatch},
		{"replayed later", secret, good, body, now.Add(6 * time.Minute), ErrTimestampTolerance},
		{"from the future", secret, good, body, now.Add(-6 * time.Minute), ErrTimestampTolerance},
		{"no header", secret, "", body, now, ErrNoSignature},
		{"no v1", secret, "t=1800000000", body, now, ErrMalformedSignature},
		{"v1 not hex", secret, "t=1800000000,v1=zz", body, now, ErrMalformedSignature},
		{"no t", secret, "v1=" + strings.Split(good, "v1=")[1], body, now, ErrMalformedSignature},
		{"garbage", secret, "sha256=abc", body, now, ErrMalformedSignature},
		{"signature over a different timestamp", secret, "t=1800000001,v1=" + strings.Split(good, "v1=")[1], body, now, ErrSignatureMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(c.secret, c.header, c.body, 0, c.now)
			if !errors.Is(err, c.want) {
				t.Errorf("Verify = %v, want %v", err, c.want)
			}
		})
	}
}

// FuzzVerify: Verify parses an untrusted header; it must never panic and must accept only a
// header that carries the body's real signature.
func FuzzVerify(f *testing.F) {
	const secret = "fuzz-secret-0123456789"
	now := time.Unix(1_800_000_000, 0)
	f.Add("t=1800000000,v1=00", []byte("{}"))
	f.Add(Sign(secret, now, []byte("{}")), []byte("{}"))
	f.Add("t=,v1=", []byte(""))
	f.Add(",,,=,t=1,v1=zz", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		if Verify(secret, header, body, time.Hour, now) != nil {
			return
		}
		var ts string
		for _, p := range strings.Split(header, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "t="); ok {
				ts = v
			}
		}
		want := "v1=" + hex.EncodeToString(mac(secret, ts, body))
		found := false
		for _, p := range strings.Split(header, ",") {
			if strings.TrimSpace(p) == want {
				found = true
			}
		}
		if !found {
			t.Fatalf("Verify accepted %q for body %q without its signature", header, body)
		}
	})
}
