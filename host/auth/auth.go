// Package auth turns credentials into access decisions: it asks the authorizer module and caches
// its answers for a bounded time, never past the token's expiry. Authorizers fail closed: any
// failure denies.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Access is what a decision grants on one document.
type Access int

// Access levels, ordered.
const (
	None Access = iota
	Read
	Write
)

// String returns the wire name: none, read or write.
func (a Access) String() string {
	switch a {
	case Read:
		return "read"
	case Write:
		return "write"
	}
	return "none"
}

// ParseAccess reads a wire name; anything unknown is None.
func ParseAccess(s string) Access {
	switch s {
	case "read":
		return Read
	case "write":
		return Write
	}
	return None
}

// Actions the host asks about.
const (
	ActionJoin      = "join"
	ActionRead      = "read"
	ActionWrite     = "write"
	ActionAwareness = "awareness"
)

// Credentials are what a caller presented.
type Credentials struct {
	Token   string
	Headers map[string]string
}

func (c Credentials) fingerprint() string {
	h := sha256.New()
	h.Write([]byte(c.Token))
	for k, v := range c.Headers {
		fmt.Fprintf(h, "\x00%s\x00%s", k, v)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Decision is an authorizer's answer for one document.
type Decision struct {
	Access  Access
	Tenant  string
	Subject string
	Reason  string
	// Expires, when not zero, is when the decision stops holding (the token's expiry).
	Expires time.Time
	// gen is the checker generation the decision was taken in; Reset makes older ones invalid.
	gen uint64
}

// Request is one question to the authorizer.
type Request struct {
	Action string
	DocID  string
	Creds  Credentials
	Now    time.Time
}

// Authorizer answers access questions. Implementations must be safe for concurrent use and
// deny on any failure (the error is for logging).
type Authorizer interface {
	Authorize(ctx context.Context, req Request) (Decision, error)
}

// Config tunes the checker. Zero fields take the defaults in their comments.
type Config struct {
	// CacheTTL is how long a decision is reused; zero means 30s.
	CacheTTL time.Duration
	// MaxEntries bounds the shared cache; zero means 100000.
	MaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Checker asks the authorizer and caches its decisions per credentials and document.
type Checker struct {
	authz Authorizer
	cfg   Config
	log   *slog.Logger

	mu    sync.Mutex
	cache map[string]cached
	gen   uint64
}

type cached struct {
	d     Decision
	until time.Time
}

// NewChecker returns a checker over authz.
func NewChecker(authz Authorizer, cfg Config, log *slog.Logger) *Checker {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Checker{authz: authz, cfg: cfg, log: log.With("component", "auth"), cache: make(map[string]cached)}
}

// Now returns the checker's clock.
func (c *Checker) Now() time.Time { return c.cfg.Now() }

// Check returns the decision for creds on docID, from the cache while it holds.
func (c *Checker) Check(ctx context.Context, creds Credentials, docID, action string) Decision {
	key := creds.fingerprint() + "\x00" + docID
	now := c.cfg.Now()
	c.mu.Lock()
	e, ok := c.cache[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Before(e.until) && e.d.gen == gen {
		return e.d
	}
	d := c.Ask(ctx, creds, docID, action)
	d.gen = gen
	until := now.Add(c.cfg.CacheTTL)
	if !d.Expires.IsZero() && d.Expires.Before(until) {
		until = d.Expires
	}
	c.mu.Lock()
	if len(c.cache) >= c.cfg.MaxEntries {
		for k := range c.cache { // drop an arbitrary tenth: cheap and bounded
			delete(c.cache, k)
			if len(c.cache) < c.cfg.MaxEntries*9/10 {
				break
			}
		}
	}
	c.cache[key] = cached{d: d, until: until}
	c.mu.Unlock()
	return d
}

// Ask asks the authorizer, bypassing the cache. A failure denies.
func (c *Checker) Ask(ctx context.Context, creds Credentials, docID, action string) Decision {
	now := c.cfg.Now()
	d, err := c.authz.Authorize(ctx, Request{Action: action, DocID: docID, Creds: creds, Now: now})
	if err != nil {
		c.log.Warn("authorizer failed; denying", "action", action, "err", err)
		return Decision{Access: None, Reason: "authorizer failed"}
	}
	if !d.Expires.IsZero() && !now.Before(d.Expires) {
		return Decision{Access: None, Reason: "credentials expired"}
	}
	if d.Tenant == "" {
		d.Tenant = "default"
	}
	return d
}

// Forget drops every cached decision for creds (a client sent a new token).
func (c *Checker) Forget(creds Credentials) {
	prefix := creds.fingerprint() + "\x00"
	c.mu.Lock()
	for k := range c.cache {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			delete(c.cache, k)
		}
	}
	c.mu.Unlock()
}

// Valid reports whether a decision taken at taken may still be used at now.
func (c *Checker) Valid(d Decision, taken, now time.Time) bool {
	if !d.Expires.IsZero() && !now.Before(d.Expires) {
		return false
	}
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	return d.gen == gen && now.Sub(taken) < c.cfg.CacheTTL
}

// Reset drops every cached decision and makes decisions held elsewhere (sessions) invalid, so
// the next check asks the authorizer again: used when the authorizer module is replaced.
func (c *Checker) Reset() {
	c.mu.Lock()
	c.gen++
	clear(c.cache)
	c.mu.Unlock()
}
