// Package jwt is an authorizer that trusts signed JSON Web Tokens (RFC 7519): it verifies the
// token's signature (HS256, RS256 or ES256) against configured keys, its time window and its
// issuer and audience, then maps a claim of document-id globs to an access level. It is the pure
// logic; the WASM module's main is in ./wasm.
//
// A Verifier is immutable after Parse and safe for concurrent use.
package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/pluginsdk/hostcrypto"
)

// Algorithms this module verifies.
const (
	HS256 = "HS256"
	RS256 = "RS256"
	ES256 = "ES256"
)

// DefaultLeewaySeconds is the clock skew allowed on exp and nbf when the config omits it.
const DefaultLeewaySeconds = 30

// minRSABits is the smallest RSA modulus accepted in a key.
const minRSABits = 2048

// Config is the module's config block.
type Config struct {
	// Algorithms lists the accepted header algs. Empty means every algorithm that has a key.
	Algorithms []string `json:"algorithms,omitempty"`
	// HS256Secret is the shared HMAC secret for HS256 (empty: no HS256).
	HS256Secret string `json:"hs256Secret,omitempty"`
	// PublicKeys are PEM public keys ("PUBLIC KEY", PKIX): RSA (RS256) or EC P-256 (ES256).
	// They have no key id: a token without kid is checked against each key of its algorithm.
	PublicKeys []string `json:"publicKeys,omitempty"`
	// JWKS is a JSON Web Key Set document, inline: RSA and EC P-256 keys, each with a kid.
	// Fields of a key this module does not use (x5c, key_ops, ...) are ignored.
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// Issuer, when set, must equal the token's iss.
	Issuer string `json:"issuer,omitempty"`
	// Audience, when set, must be the token's aud or one of its elements.
	Audience string `json:"audience,omitempty"`
	// LeewaySeconds is the clock skew allowed on exp and nbf. Nil means DefaultLeewaySeconds.
	LeewaySeconds *int64 `json:"leewaySeconds,omitempty"`
	// Claims names the claims the decision is read from.
	Claims ClaimNames `json:"claims"`
}

// ClaimNames names the claims a decision is read from.
type ClaimNames struct {
	// Docs is the claim holding {"<doc-id glob>": "read"|"write", ...}. Empty means "docs".
	Docs string `json:"docs,omitempty"`
	// Tenant is the claim holding the tenant (a string, optional). Empty means "tenant".
	Tenant string `json:"tenant,omitempty"`
	// Subject is the claim holding the subject. Empty means "sub".
	Subject string `json:"subject,omitempty"`
}

// jwk is the part of a JSON Web Key this module reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// key is one verification key.
type key struct {
	alg string // RS256 or ES256
	kid string // empty for PEM keys
	der []byte // PKIX DER: what the host's crypto_verify takes
}

// Verifier verifies tokens and decides requests from a Config.
type Verifier struct {
	allowed  map[string]bool
	secret   []byte
	keys     []key          // PEM keys, tried in order for a token without kid
	byKid    map[string]key // JWKS keys
	issuer   string
	audience string
	leeway   int64 // milliseconds
	claims   ClaimNames
	// defaultNames: claims are the default names (docs, tenant, sub).
	defaultNames bool

	// hdr caches the last header part decoded: tokens of one issuer share it, so most calls
	// skip the header's base64 and JSON.
	hdr atomic.Pointer[cachedHeader]
	// scratch holds the buffers of one Decide call, reused across calls so the common path
	// allocates nothing but the decision's strings. A concurrent call (native use only: a WASM
	// instance runs one call at a time) makes its own.
	mu      sync.Mutex
	scratch *scratch
}

// cachedHeader is a header part, what parseHeader read from it, and the refusal reason it
// gets ("" for a header whose alg is allowed).
type cachedHeader struct {
	seg    string
	h      header
	reason string
}

// maxKeptPayload bounds the claims buffer a Verifier keeps between calls: a rare huge token
// gets a buffer of its own.
const maxKeptPayload = 64 << 10

// scratch is the reusable state of a Decide call.
type scratch struct {
	payload []byte // the decoded claims
	c       claims
	// The last decision's strings, reused when the next one has the same (the tokens of one
	// user repeat them), so the common path allocates nothing of its own.
	sub, tenant, reason string
	// reasonPattern and reasonAccess are the grant reason was made for.
	reasonPattern, reasonAccess string
}

// intern returns b as a string, *last when equal, else a copy that becomes *last.
func intern(last *string, b []byte) string {
	if string(b) != *last {
		*last = string(b)
	}
	return *last
}

// Parse reads a config block strictly (unknown keys are errors) and loads its keys.
func Parse(b []byte) (*Verifier, error) {
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("jwt config: %w (known keys: algorithms, hs256Secret, publicKeys, jwks, issuer, audience, leewaySeconds, claims)", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("jwt config: unexpected data after the config object")
	}
	v := &Verifier{
		scratch:  new(scratch),
		allowed:  map[string]bool{},
		byKid:    map[string]key{},
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		leeway:   DefaultLeewaySeconds * 1000,
		claims:   cfg.Claims,
	}
	if cfg.LeewaySeconds != nil {
		if *cfg.LeewaySeconds < 0 || *cfg.LeewaySeconds > 86400 {
			return nil, fmt.Errorf("jwt config: leewaySeconds %d must be between 0 and 86400", *cfg.LeewaySeconds)
		}
		v.leeway = *cfg.LeewaySeconds * 1000
	}
	if v.claims.Docs == "" {
		v.claims.Docs = "docs"
	}
	if v.claims.Tenant == "" {
		v.claims.Tenant = "tenant"
	}
	if v.claims.Subject == "" {
		v.claims.Subject = "sub"
	}
	v.defaultNames = v.claims == ClaimNames{Docs: "docs", Tenant: "tenant", Subject: "sub"}
	if cfg.HS256Secret != "" {
		if strings.Contains(cfg.HS256Secret, "-----BEGIN") {
			return nil, fmt.Errorf("jwt config: hs256Secret looks like a PEM key; put public keys in publicKeys")
		}
		if len(cfg.HS256Secret) < 32 {
			return nil, fmt.Errorf("jwt config: hs256Secret must be at least 32 bytes (RFC 7518 section 3.2), got %d", len(cfg.HS256Secret))
		}
		v.secret = []byte(cfg.HS256Secret)
	}
	for i, p := range cfg.PublicKeys {
		k, err := parsePEM(p)
		if err != nil {
			return nil, fmt.Errorf("jwt config: publicKeys[%d]: %w", i, err)
		}
		v.keys = append(v.keys, k)
	}
	if len(cfg.JWKS) > 0 && string(cfg.JWKS) != "null" {
		var set struct {
			Keys []jwk `json:"keys"`
		}
		if err := json.Unmarshal(cfg.JWKS, &set); err != nil {
			return nil, fmt.Errorf("jwt config: jwks: %w", err)
		}
		for i, j := range set.Keys {
			k, err := parseJWK(j)
			if err != nil {
				return nil, fmt.Errorf("jwt config: jwks key %d (kid %q): %w", i, j.Kid, err)
			}
			if _, dup := v.byKid[k.kid]; dup {
				return nil, fmt.Errorf("jwt config: jwks: duplicate kid %q", k.kid)
			}
			v.byKid[k.kid] = k
		}
	}
	have := map[string]bool{HS256: v.secret != nil}
	for _, k := range v.keys {
		have[k.alg] = true
	}
	for _, k := range v.byKid {
		have[k.alg] = true
	}
	if len(cfg.Algorithms) == 0 {
		for alg, ok := range have {
			if ok {
				v.allowed[alg] = true
			}
		}
		if len(v.allowed) == 0 {
			return nil, fmt.Errorf("jwt config: no key: set hs256Secret, publicKeys or jwks")
		}
	}
	for _, alg := range cfg.Algorithms {
		switch alg {
		case HS256, RS256, ES256:
		default:
			return nil, fmt.Errorf("jwt config: algorithm %q is not supported (HS256, RS256, ES256)", alg)
		}
		if !have[alg] {
			return nil, fmt.Errorf("jwt config: algorithm %s is allowed but no key for it is configured", alg)
		}
		v.allowed[alg] = true
	}
	return v, nil
}

func parsePEM(s string) (key, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return key{}, fmt.Errorf("not a PEM block")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return key{}, fmt.Errorf("more than one PEM block: give each key its own entry")
	}
	if block.Type != "PUBLIC KEY" {
		return key{}, fmt.Errorf("PEM type %q, want PUBLIC KEY (PKIX)", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return key{}, fmt.Errorf("parse public key: %w", err)
	}
	return fromPublic(pub)
}

func fromPublic(pub any) (key, error) {
	var alg string
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < minRSABits {
			return key{}, fmt.Errorf("RSA key of %d bits, want at least %d", p.N.BitLen(), minRSABits)
		}
		alg = RS256
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() {
			return key{}, fmt.Errorf("EC key on %s, want P-256", p.Curve.Params().Name)
		}
		alg = ES256
	default:
		return key{}, fmt.Errorf("unsupported key type %T, want RSA or EC P-256", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return key{}, fmt.Errorf("encode public key: %w", err)
	}
	return key{alg: alg, der: der}, nil
}

func parseJWK(j jwk) (key, error) {
	if j.Kid == "" {
		return key{}, fmt.Errorf("no kid")
	}
	if j.Use != "" && j.Use != "sig" {
		return key{}, fmt.Errorf("use %q, want sig", j.Use)
	}
	b64 := base64.RawURLEncoding
	var k key
	switch j.Kty {
	case "RSA":
		n, err := b64.DecodeString(j.N)
		if err != nil || len(n) == 0 {
			return key{}, fmt.Errorf("bad n")
		}
		e, err := b64.DecodeString(j.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return key{}, fmt.Errorf("bad e")
		}
		exp := new(big.Int).SetBytes(e).Int64()
		if exp < 3 || exp%2 == 0 {
			return key{}, fmt.Errorf("bad e")
		}
		if k, err = fromPublic(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}); err != nil {
			return key{}, err
		}
	case "EC":
		if j.Crv != "P-256" {
			return key{}, fmt.Errorf("crv %q, want P-256", j.Crv)
		}
		x, errX := b64.DecodeString(j.X)
		y, errY := b64.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return key{}, fmt.Errorf("bad x or y (want 32 bytes each, base64url)")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return key{}, fmt.Errorf("bad point: %w", err)
		}
		if k, err = fromPublic(pub); err != nil {
			return key{}, err
		}
	default:
		return key{}, fmt.Errorf("kty %q, want RSA or EC", j.Kty)
	}
	if j.Alg != "" && j.Alg != k.alg {
		return key{}, fmt.Errorf("alg %q does not fit a %s key (want %s)", j.Alg, j.Kty, k.alg)
	}
	k.kid = j.Kid
	return k, nil
}

// Refusal reasons: a Decision's Reason when access is none before the docs claim is read.
const (
	ReasonNoToken      = "no token"
	ReasonMalformed    = "malformed token"
	ReasonAlgNone      = "algorithm none not allowed"
	ReasonUnknownKid   = "unknown key id"
	ReasonBadSignature = "bad signature"
	ReasonExpired      = "token expired"
	ReasonNotYetValid  = "not yet valid"
	ReasonWrongIssuer  = "wrong issuer"
	ReasonWrongAud     = "wrong audience"
	ReasonNoGrant      = "no docs grant matches"
)

const reasonNotCompact = ReasonMalformed + ": want three dot-separated parts"

func deny(reason string) authorizer.Decision {
	return authorizer.Decision{Access: authorizer.AccessNone, Reason: reason}
}

// Decide verifies req.Token and answers one request. Every refusal is a Decision with Access
// none and a specific Reason; it never fails.
func (v *Verifier) Decide(req authorizer.Request) authorizer.Decision {
	tok := req.Token
	if tok == "" {
		return deny(ReasonNoToken)
	}
	// Only the header part is looked at here: the host splits the rest (hostcrypto.VerifyJWS),
	// since every byte a guest loops over costs it (most in a sandboxed runtime).
	d1 := strings.IndexByte(tok, '.')
	if d1 < 0 {
		return deny(reasonNotCompact)
	}
	h, reason := v.header(tok[:d1])
	if reason != "" {
		return deny(reason)
	}
	sc := v.scratch
	if v.mu.TryLock() {
		defer v.mu.Unlock()
	} else {
		sc = new(scratch)
	}
	out := sc.payload[:cap(sc.payload)]
	if need := hostcrypto.PayloadCap(tok); len(out) < need {
		out = make([]byte, max(need, 1024))
		if need <= maxKeptPayload {
			sc.payload = out
		}
	}
	n, reason := v.verify(h, tok, out)
	if reason != "" {
		return deny(reason)
	}
	c := &sc.c
	if err := v.parseClaims(out[:n], c); err != nil {
		return deny(ReasonMalformed + ": " + err.Error())
	}
	return v.decideClaims(req, c, sc)
}

// header returns the header of a token from its first part, or a refusal reason: it is
// decoded, parsed and checked once per distinct part (the last one is cached, with its
// outcome; tokens of one issuer share their header).
func (v *Verifier) header(seg string) (header, string) {
	if c := v.hdr.Load(); c != nil && c.seg == seg {
		return c.h, c.reason
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return header{}, ReasonMalformed + ": header is not base64url"
	}
	h, err := parseHeader(hb)
	if err != nil {
		return header{}, ReasonMalformed + ": header: " + err.Error()
	}
	var reason string
	switch {
	case strings.EqualFold(h.alg, "none"):
		reason = ReasonAlgNone
	case h.alg == "":
		reason = ReasonMalformed + ": header has no alg"
	case !v.allowed[h.alg]:
		reason = fmt.Sprintf("algorithm %.16q not allowed", h.alg)
	case h.crit:
		reason = ReasonMalformed + ": unsupported crit header"
	}
	v.hdr.Store(&cachedHeader{seg: strings.Clone(seg), h: h, reason: reason})
	return h, reason
}

// verify checks the signature of tok (a compact JWS) with the key its header h selects and
// decodes its claims into out (hostcrypto.PayloadCap(tok) bytes); it returns their length, or
// a refusal reason. h.alg is already allowed.
func (v *Verifier) verify(h header, tok string, out []byte) (int, string) {
	if h.alg == HS256 {
		n, err := hostcrypto.VerifyJWS(hostcrypto.HS256, v.secret, tok, out)
		return n, jwsReason(err)
	}
	if h.kid != "" {
		if k, ok := v.byKid[h.kid]; ok {
			if k.alg != h.alg {
				return 0, fmt.Sprintf("key %.64q is for %s, token says %s", h.kid, k.alg, h.alg)
			}
			n, err := k.check(tok, out)
			return n, jwsReason(err)
		}
		if len(v.keys) == 0 {
			return 0, ReasonUnknownKid
		}
	}
	// No kid (or a kid the JWKS does not know, with PEM keys configured): try each PEM key of
	// the algorithm, then, without a kid, each JWKS key of it.
	for _, k := range v.keys {
		if k.alg == h.alg {
			if n, err := k.check(tok, out); err != hostcrypto.ErrBadSignature && err != hostcrypto.ErrBadKey {
				return n, jwsReason(err)
			}
		}
	}
	if h.kid == "" {
		for _, k := range v.byKid {
			if k.alg == h.alg {
				if n, err := k.check(tok, out); err != hostcrypto.ErrBadSignature && err != hostcrypto.ErrBadKey {
					return n, jwsReason(err)
				}
			}
		}
	}
	return 0, ReasonBadSignature
}

// jwsReason is the refusal reason for an error of hostcrypto.VerifyJWS ("" for none).
func jwsReason(err error) string {
	switch err {
	case nil:
		return ""
	case hostcrypto.ErrSignatureEncoding:
		return ReasonMalformed + ": signature is not base64url"
	case hostcrypto.ErrPayloadEncoding:
		return ReasonMalformed + ": claims are not base64url"
	case hostcrypto.ErrNotCompact:
		return reasonNotCompact
	}
	return ReasonBadSignature
}

// check verifies the signature of tok with the host's native crypto (hostcrypto) and decodes
// its claims into out.
func (k key) check(tok string, out []byte) (int, error) {
	alg := hostcrypto.RS256
	if k.alg == ES256 {
		alg = hostcrypto.ES256
	}
	return hostcrypto.VerifyJWS(alg, k.der, tok, out)
}

// decideClaims checks the time window, issuer and audience of verified claims and maps the
// docs claim to an access level.
func (v *Verifier) decideClaims(req authorizer.Request, c *claims, sc *scratch) authorizer.Decision {
	d := authorizer.Decision{Access: authorizer.AccessNone, Subject: intern(&sc.sub, c.sub)}
	if c.hasExp {
		d.ExpiresAtUnixMillis = int64(c.exp * 1000)
		if req.NowUnixMillis >= d.ExpiresAtUnixMillis+v.leeway {
			d.ExpiresAtUnixMillis, d.Reason = 0, ReasonExpired
			return d
		}
	}
	switch {
	case c.hasNbf && req.NowUnixMillis+v.leeway < int64(c.nbf*1000):
		d.Reason = ReasonNotYetValid
	case v.issuer != "" && string(c.iss) != v.issuer:
		d.Reason = ReasonWrongIssuer
	case v.audience != "" && !c.audOK:
		d.Reason = ReasonWrongAud
	}
	if d.Reason != "" {
		d.ExpiresAtUnixMillis = 0
		return d
	}
	d.Tenant = intern(&sc.tenant, c.tenant)
	d.Reason = ReasonNoGrant
	best := -1
	for i, g := range c.docs {
		// The pattern aliases the scratch payload only for the match; the reason copies it.
		if ok, _ := path.Match(unsafe.String(unsafe.SliceData(g.pattern), len(g.pattern)), req.DocID); !ok {
			continue
		}
		switch string(g.access) {
		case authorizer.AccessWrite:
			d.Access, best = authorizer.AccessWrite, i
		case authorizer.AccessRead:
			if d.Access == authorizer.AccessNone {
				d.Access, best = authorizer.AccessRead, i
			}
		}
		if d.Access == authorizer.AccessWrite {
			break
		}
	}
	if best >= 0 {
		if p := c.docs[best].pattern; string(p) != sc.reasonPattern || d.Access != sc.reasonAccess {
			sc.reasonPattern, sc.reasonAccess = string(p), d.Access
			sc.reason = "docs grant " + sc.reasonPattern + ": " + d.Access
		}
		d.Reason = sc.reason
	}
	return d
}

// header is what this module reads of a token's JOSE header.
type header struct {
	alg, kid string
	crit     bool // a crit member is present
}

func parseHeader(b []byte) (header, error) {
	var h header
	s := scanner{b: b}
	err := s.document(func(key []byte) error {
		var err error
		switch string(key) {
		case "alg":
			h.alg, err = s.str()
		case "kid":
			h.kid, err = s.str()
		case "crit":
			h.crit = true
			err = s.skip()
		default:
			err = s.skip()
		}
		return err
	})
	if err != nil {
		return header{}, errors.New("not a JSON object of the expected types")
	}
	return h, nil
}

// grant is one member of the docs claim. Its slices alias the decoded claims.
type grant struct{ pattern, access []byte }

// claims is what this module reads of a token's claims. Its slices alias the decoded claims
// (or, for a string with escapes, a fresh copy).
type claims struct {
	exp, nbf       float64
	hasExp, hasNbf bool
	iss            []byte
	audOK          bool // aud is, or contains, the configured audience
	sub, tenant    []byte
	docs           []grant
}

// Kinds of claim parseClaims reads.
const (
	claimOther = iota
	claimDocs
	claimTenant
	claimSubject
	claimExp
	claimNbf
	claimIss
	claimAud
)

// claimKind classifies a member name of the claims. The configured names come first: they may
// shadow a registered claim's name. Constant names compile to inline compares (no calls, which a
// guest pays for).
func (v *Verifier) claimKind(key []byte) int {
	if v.defaultNames {
		switch {
		case string(key) == "docs":
			return claimDocs
		case string(key) == "tenant":
			return claimTenant
		case string(key) == "sub":
			return claimSubject
		}
	} else {
		switch {
		case string(key) == v.claims.Docs:
			return claimDocs
		case string(key) == v.claims.Tenant:
			return claimTenant
		case string(key) == v.claims.Subject:
			return claimSubject
		}
	}
	switch {
	case string(key) == "exp":
		return claimExp
	case string(key) == "nbf":
		return claimNbf
	case string(key) == "iss":
		return claimIss
	case string(key) == "aud":
		return claimAud
	}
	return claimOther
}

var errNotObject = errors.New("claims are not a JSON object")

// parseClaims reads b into c, reusing c's docs slice. It is one flat loop over the members
// (no callbacks): a guest pays for every call and loop iteration.
func (v *Verifier) parseClaims(b []byte, c *claims) error {
	*c = claims{docs: c.docs[:0]}
	s := scanner{b: b}
	if s.peek() != '{' {
		return errNotObject
	}
	s.i++
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return errNotObject
			}
			key, err := s.rawString()
			if err != nil {
				return errNotObject
			}
			if s.peek() != ':' {
				return errNotObject
			}
			s.i++
			s.ws()
			switch v.claimKind(key) {
			case claimDocs:
				c.docs = c.docs[:0]
				if s.peek() == 'n' {
					if s.null() != nil {
						return errNotObject
					}
					break
				}
				if err := s.grants(c); err != nil {
					return errors.New("docs claim is not an object of strings")
				}
			case claimTenant:
				if c.tenant, err = s.strBytes(); err != nil {
					return errors.New("tenant claim is not a string")
				}
			case claimSubject:
				if c.sub, err = s.strBytes(); err != nil {
					return errors.New("subject claim is not a string")
				}
			case claimExp:
				if c.exp, c.hasExp, err = s.number(); err != nil {
					return errors.New("exp is not a number")
				}
			case claimNbf:
				if c.nbf, c.hasNbf, err = s.number(); err != nil {
					return errors.New("nbf is not a number")
				}
			case claimIss:
				if c.iss, err = s.strBytes(); err != nil {
					return errors.New("iss is not a string")
				}
			case claimAud:
				if c.audOK, err = v.readAudience(&s); err != nil {
					return errors.New("aud is not a string or an array of strings")
				}
			default:
				if s.skip() != nil {
					return errNotObject
				}
			}
			ch := s.peek()
			s.i++
			if ch == '}' {
				break
			}
			if ch != ',' {
				return errNotObject
			}
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return errNotObject
	}
	return nil
}

// grants reads the docs claim, an object of strings, into c.docs.
func (s *scanner) grants(c *claims) error {
	if s.peek() != '{' {
		return errSyntax
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return errSyntax
		}
		pattern, err := s.rawString()
		if err != nil {
			return err
		}
		if s.peek() != ':' {
			return errSyntax
		}
		s.i++
		access, err := s.strBytes()
		if err != nil {
			return err
		}
		c.docs = append(c.docs, grant{pattern, access})
		ch := s.peek()
		s.i++
		if ch == '}' {
			return nil
		}
		if ch != ',' {
			return errSyntax
		}
	}
}

func (v *Verifier) readAudience(s *scanner) (bool, error) {
	if s.peek() != '[' {
		a, err := s.strBytes()
		return err == nil && len(a) != 0 && string(a) == v.audience, err
	}
	s.i++
	ok := false
	if s.peek() == ']' {
		s.i++
		return false, nil
	}
	for {
		a, err := s.strBytes()
		if err != nil {
			return false, err
		}
		ok = ok || (len(a) != 0 && string(a) == v.audience)
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return ok, nil
		default:
			return false, errSyntax
		}
	}
}
