// Package acl is an authorizer driven by a rules file: tokens name a subject, its groups and a
// tenant; rules grant read or write on document-id globs to subjects or groups. The highest
// access of all matching rules wins; no match denies. It is the pure logic; the WASM module's
// main is in ./wasm.
package acl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"

	"github.com/opstream/opstream/pluginsdk/authorizer"
)

// Config is the module's config block.
type Config struct {
	// Tokens maps a bearer token to who presents it.
	Tokens map[string]Principal `json:"tokens"`
	// Rules grant access; see Rule.
	Rules []Rule `json:"rules"`
	// Anonymous, when set, is the principal of requests without a token.
	Anonymous *Principal `json:"anonymous,omitempty"`
}

// Principal is who a token stands for.
type Principal struct {
	Subject string   `json:"subject"`
	Groups  []string `json:"groups,omitempty"`
	Tenant  string   `json:"tenant,omitempty"`
	// ExpiresAtUnixMillis, when set, makes the token invalid from then on.
	ExpiresAtUnixMillis int64 `json:"expiresAtUnixMillis,omitempty"`
}

// Rule grants Access on documents whose id matches Doc (a path.Match glob) to a Subject or to
// members of Group ("*" in either means everyone).
type Rule struct {
	Doc     string `json:"doc"`
	Subject string `json:"subject,omitempty"`
	Group   string `json:"group,omitempty"`
	Access  string `json:"access"`
}

// ACL decides requests from a Config.
type ACL struct{ cfg Config }

// Parse reads a config block strictly (unknown keys are errors) and checks its rules.
func Parse(b []byte) (*ACL, error) {
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("acl config: %w", err)
	}
	for i, r := range cfg.Rules {
		if r.Doc == "" {
			return nil, fmt.Errorf("acl config: rule %d has no doc pattern", i)
		}
		if _, err := path.Match(r.Doc, ""); err != nil {
			return nil, fmt.Errorf("acl config: rule %d: bad pattern %q: %w", i, r.Doc, err)
		}
		if r.Subject == "" && r.Group == "" {
			return nil, fmt.Errorf("acl config: rule %d names neither subject nor group", i)
		}
		if r.Access != authorizer.AccessRead && r.Access != authorizer.AccessWrite {
			return nil, fmt.Errorf("acl config: rule %d: access %q must be read or write", i, r.Access)
		}
	}
	return &ACL{cfg: cfg}, nil
}

var errUnknownToken = errors.New("unknown token")

// Decide answers one request.
func (a *ACL) Decide(req authorizer.Request) authorizer.Decision {
	var p Principal
	switch {
	case req.Token == "" && a.cfg.Anonymous != nil:
		p = *a.cfg.Anonymous
	case req.Token == "":
		return authorizer.Decision{Access: authorizer.AccessNone, Reason: "no token"}
	default:
		var ok bool
		if p, ok = a.cfg.Tokens[req.Token]; !ok {
			return authorizer.Decision{Access: authorizer.AccessNone, Reason: errUnknownToken.Error()}
		}
	}
	if p.ExpiresAtUnixMillis > 0 && req.NowUnixMillis >= p.ExpiresAtUnixMillis {
		return authorizer.Decision{Access: authorizer.AccessNone, Subject: p.Subject, Reason: "token expired"}
	}
	best, why := authorizer.AccessNone, "no rule grants access"
	for _, r := range a.cfg.Rules {
		if ok, _ := path.Match(r.Doc, req.DocID); !ok || !r.applies(p) {
			continue
		}
		if r.Access == authorizer.AccessWrite || best == authorizer.AccessNone {
			best, why = r.Access, fmt.Sprintf("rule %s for %s", r.Doc, r.who())
		}
	}
	return authorizer.Decision{Access: best, Tenant: p.Tenant, Subject: p.Subject, Reason: why, ExpiresAtUnixMillis: p.ExpiresAtUnixMillis}
}

func (r Rule) applies(p Principal) bool {
	if r.Subject == "*" || (r.Subject != "" && r.Subject == p.Subject) || r.Group == "*" {
		return true
	}
	for _, g := range p.Groups {
		if r.Group != "" && g == r.Group {
			return true
		}
	}
	return false
}

func (r Rule) who() string {
	if r.Subject != "" {
		return "subject " + r.Subject
	}
	return "group " + r.Group
}
