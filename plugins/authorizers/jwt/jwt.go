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
	d1 := strings.IndexByte(tok, '.')
	d2 := strings.LastIndexByte(tok, '.')
	if d1 < 0 || d1 == d2 || strings.IndexByte(tok[d1+1:d2], '.') >= 0 {
		return deny(ReasonMalformed + ": want three dot-separated parts")
	}
	b64 := base64.RawURLEncoding.Strict()
	hb, err := b64.DecodeString(tok[:d1])
	if err != nil {
		return deny(ReasonMalformed + ": header is not base64url")
	}
	h, err := parseHeader(hb)
	if err != nil {
		return deny(ReasonMalformed + ": header: " + err.Error())
	}
	switch {
	case strings.EqualFold(h.alg, "none"):
		return deny(ReasonAlgNone)
	case h.alg == "":
		return deny(ReasonMalformed + ": header has no alg")
	case !v.allowed[h.alg]:
		return deny(fmt.Sprintf("algorithm %.16q not allowed", h.alg))
	case h.crit:
		return deny(ReasonMalformed + ": unsupported crit header")
	}
	sig, err := b64.DecodeString(tok[d2+1:])
	if err != nil {
		return deny(ReasonMalformed + ": signature is not base64url")
	}
	if reason := v.verify(h, tok[:d2], sig); reason != "" {
		return deny(reason)
	}
	cb, err := b64.DecodeString(tok[d1+1 : d2])
	if err != nil {
		return deny(ReasonMalformed + ": claims are not base64url")
	}
	c, err := v.parseClaims(cb)
	if err != nil {
		return deny(ReasonMalformed + ": " + err.Error())
	}
	return v.decideClaims(req, &c)
}

// verify checks the signature of signed (header.claims) with the key the header selects; it
// returns a refusal reason, or "" when the signature is good. alg is already allowed.
func (v *Verifier) verify(h header, signed string, sig []byte) string {
	msg := []byte(signed)
	if h.alg == HS256 {
		if ok, _ := hostcrypto.Verify(hostcrypto.HS256, v.secret, msg, sig); !ok {
			return ReasonBadSignature
		}
		return ""
	}
	if h.kid != "" {
		if k, ok := v.byKid[h.kid]; ok {
			if k.alg != h.alg {
				return fmt.Sprintf("key %.64q is for %s, token says %s", h.kid, k.alg, h.alg)
			}
			if !k.check(msg, sig) {
				return ReasonBadSignature
			}
			return ""
		}
		if len(v.keys) == 0 {
			return ReasonUnknownKid
		}
	}
	// No kid (or a kid the JWKS does not know, with PEM keys configured): try each PEM key of
	// the algorithm, then, without a kid, each JWKS key of it.
	for _, k := range v.keys {
		if k.alg == h.alg && k.check(msg, sig) {
			return ""
		}
	}
	if h.kid == "" {
		for _, k := range v.byKid {
			if k.alg == h.alg && k.check(msg, sig) {
				return ""
			}
		}
	}
	return ReasonBadSignature
}

// check verifies sig over msg with the host's native crypto (hostcrypto).
func (k key) check(msg, sig []byte) bool {
	alg := hostcrypto.RS256
	if k.alg == ES256 {
		if len(sig) != 64 {
			return false
		}
		alg = hostcrypto.ES256
	}
	ok, _ := hostcrypto.Verify(alg, k.der, msg, sig)
	return ok
}

// decideClaims checks the time window, issuer and audience of verified claims and maps the
// docs claim to an access level.
func (v *Verifier) decideClaims(req authorizer.Request, c *claims) authorizer.Decision {
	d := authorizer.Decision{Access: authorizer.AccessNone, Subject: c.sub}
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
	case v.issuer != "" && c.iss != v.issuer:
		d.Reason = ReasonWrongIssuer
	case v.audience != "" && !c.audOK:
		d.Reason = ReasonWrongAud
	}
	if d.Reason != "" {
		d.ExpiresAtUnixMillis = 0
		return d
	}
	d.Tenant = c.tenant
	d.Reason = ReasonNoGrant
	for _, g := range c.docs {
		if ok, _ := path.Match(g.pattern, req.DocID); !ok {
			continue
		}
		switch g.access {
		case authorizer.AccessWrite:
			d.Access, d.Reason = g.access, "docs grant "+g.pattern+": write"
		case authorizer.AccessRead:
			if d.Access == authorizer.AccessNone {
				d.Access, d.Reason = g.access, "docs grant "+g.pattern+": read"
			}
		}
		if d.Access == authorizer.AccessWrite {
			break
		}
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

// grant is one member of the docs claim.
type grant struct{ pattern, access string }

// claims is what this module reads of a token's claims.
type claims struct {
	exp, nbf       float64
	hasExp, hasNbf bool
	iss            string
	audOK          bool // aud is, or contains, the configured audience
	sub, tenant    string
	docs           []grant
}

func (v *Verifier) parseClaims(b []byte) (claims, error) {
	var c claims
	s := scanner{b: b}
	err := s.document(func(key []byte) error {
		// The configured names come first: they may shadow a registered claim's name.
		switch string(key) {
		case v.claims.Docs:
			if s.peek() == 'n' {
				return s.null()
			}
			c.docs = c.docs[:0]
			err := s.object(func(pattern []byte) error {
				access, err := s.str()
				c.docs = append(c.docs, grant{string(pattern), access})
				return err
			})
			if err != nil {
				return errors.New("docs claim is not an object of strings")
			}
			return nil
		case v.claims.Tenant:
			var err error
			if c.tenant, err = s.str(); err != nil {
				return errors.New("tenant claim is not a string")
			}
			return nil
		case v.claims.Subject:
			var err error
			if c.sub, err = s.str(); err != nil {
				return errors.New("subject claim is not a string")
			}
			return nil
		}
		var err error
		switch string(key) {
		case "exp":
			if c.exp, c.hasExp, err = s.number(); err != nil {
				return errors.New("exp is not a number")
			}
		case "nbf":
			if c.nbf, c.hasNbf, err = s.number(); err != nil {
				return errors.New("nbf is not a number")
			}
		case "iss":
			if c.iss, err = s.str(); err != nil {
				return errors.New("iss is not a string")
			}
		case "aud":
			if c.audOK, err = v.readAudience(&s); err != nil {
				return errors.New("aud is not a string or an array of strings")
			}
		default:
			return s.skip()
		}
		return nil
	})
	if err != nil {
		if err == errSyntax {
			err = errors.New("claims are not a JSON object")
		}
		return claims{}, err
	}
	return c, nil
}

func (v *Verifier) readAudience(s *scanner) (bool, error) {
	if s.peek() != '[' {
		a, err := s.str()
		return err == nil && a != "" && a == v.audience, err
	}
	s.i++
	ok := false
	if s.peek() == ']' {
		s.i++
		return false, nil
	}
	for {
		a, err := s.str()
		if err != nil {
			return false, err
		}
		ok = ok || (a != "" && a == v.audience)
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
