package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// countingAuthorizer grants by token and counts calls; the cache is what is under test.
type countingAuthorizer struct {
	calls atomic.Int64
	fail  bool
}

func (a *countingAuthorizer) Authorize(_ context.Context, req Request) (Decision, error) {
	a.calls.Add(1)
	if a.fail {
		return Decision{Access: Write}, errors.New("module trapped")
	}
	switch req.Creds.Token {
	case "w":
		return Decision{Access: Write, Tenant: "acme"}, nil
	case "soon":
		return Decision{Access: Write, Expires: time.Unix(1013, 0)}, nil // a token with a fixed expiry
	}
	return Decision{Access: None}, nil
}

func TestCheckerCachesAndExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	a := &countingAuthorizer{}
	c := NewChecker(a, Config{CacheTTL: 10 * time.Second, Now: func() time.Time { return now }}, nil)
	ctx := context.Background()
	w := Credentials{Token: "w"}
	if d := c.Check(ctx, w, "doc", ActionJoin); d.Access != Write || d.Tenant != "acme" {
		t.Fatalf("decision %+v", d)
	}
	c.Check(ctx, w, "doc", ActionWrite)
	if n := a.calls.Load(); n != 1 {
		t.Fatalf("%d authorizer calls, want 1 (cached)", n)
	}
	now = now.Add(11 * time.Second)
	c.Check(ctx, w, "doc", ActionWrite)
	if n := a.calls.Load(); n != 2 {
		t.Fatalf("cache did not lapse after its TTL: %d calls", n)
	}
	// A token's expiry bounds the cache.
	d := c.Check(ctx, Credentials{Token: "soon"}, "doc", ActionJoin)
	taken := now
	now = now.Add(3 * time.Second)
	if c.Valid(d, taken, now) {
		t.Fatal("decision valid past the token's expiry")
	}
	if d := c.Check(ctx, Credentials{Token: "soon"}, "doc", ActionJoin); d.Access != None {
		t.Fatalf("expired token still allowed: %+v", d)
	}
	// Reset invalidates decisions held elsewhere.
	d = c.Check(ctx, w, "doc2", ActionJoin)
	if !c.Valid(d, now, now) {
		t.Fatal("fresh decision invalid")
	}
	c.Reset()
	if c.Valid(d, now, now) {
		t.Fatal("decision still valid after Reset")
	}
}

func TestCheckerFailsClosed(t *testing.T) {
	c := NewChecker(&countingAuthorizer{fail: true}, Config{}, nil)
	if d := c.Check(context.Background(), Credentials{Token: "w"}, "doc", ActionJoin); d.Access != None {
		t.Fatalf("a failing authorizer allowed: %+v", d)
	}
}

// BenchmarkCheckCached is a cached authorization decision (HTTP requests; sessions keep their
// decision on the membership and only compare times).
func BenchmarkCheckCached(b *testing.B) {
	c := NewChecker(&countingAuthorizer{}, Config{CacheTTL: time.Hour}, nil)
	ctx := context.Background()
	w := Credentials{Token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl"}
	c.Check(ctx, w, "doc", ActionWrite)
	b.ReportAllocs()
	for b.Loop() {
		c.Check(ctx, w, "doc", ActionWrite)
	}
}

// BenchmarkSessionDecision is what a session does per op: check its held decision is valid.
func BenchmarkSessionDecision(b *testing.B) {
	c := NewChecker(&countingAuthorizer{}, Config{CacheTTL: time.Hour}, nil)
	d := c.Check(context.Background(), Credentials{Token: "w"}, "doc", ActionWrite)
	taken := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if !c.Valid(d, taken, taken) {
			b.Fatal("invalid")
		}
	}
}
