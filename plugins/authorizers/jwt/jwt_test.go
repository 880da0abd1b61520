package jwt

import (
	"strings"
	"sync"
	"testing"

	"github.com/opstream/opstream/pluginsdk/authorizer"
)

const now = int64(1795000000000) // ms

func TestDecide(t *testing.T) {
	testKeys(t)
	rsaPEM := pemOf(t, &rsaKey.PublicKey)
	cfg := map[string]any{
		"hs256Secret": testSecret,
		"publicKeys":  []string{rsaPEM, pemOf(t, &ecKey.PublicKey)},
		"jwks":        map[string]any{"keys": []any{rsaJWK("r1", &rsaKey.PublicKey), ecJWK("e1", &ecKey.PublicKey)}},
		"issuer":      "https://id.example",
		"audience":    "opstream",
	}
	v, err := Parse(mustJSON(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(testSecret)
	base := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": "https://id.example", "aud": "opstream", "sub": "ann", "tenant": "acme",
			"exp": now/1000 + 600, "nbf": now/1000 - 10,
			"docs": map[string]string{"notes-*": "write", "*": "read", "secret": "none"},
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	good := base(nil)
	tests := []struct {
		name, token, doc   string
		access, reason     string // reason: a substring of the wanted Reason
		tenant, subject    string
		wantExpiresAtMilli int64
	}{
		{name: "HS256 write", token: sign(t, HS256, "", good, secret), doc: "notes-1", access: "write", tenant: "acme", subject: "ann", wantExpiresAtMilli: (now/1000 + 600) * 1000},
		{name: "RS256 PEM", token: sign(t, RS256, "", good, rsaKey), doc: "notes-1", access: "write", tenant: "acme", subject: "ann"},
		{name: "RS256 kid", token: sign(t, RS256, "r1", good, rsaKey), doc: "notes-1", access: "write", tenant: "acme", subject: "ann"},
		{name: "ES256 PEM", token: sign(t, ES256, "", good, ecKey), doc: "notes-1", access: "write", tenant: "acme", subject: "ann"},
		{name: "ES256 kid", token: sign(t, ES256, "e1", good, ecKey), doc: "notes-1", access: "write", tenant: "acme", subject: "ann"},
		{name: "read glob", token: sign(t, HS256, "", good, secret), doc: "plan", access: "read", tenant: "acme", subject: "ann"},
		{name: "highest wins", token: sign(t, ES256, "", base(func(c map[string]any) {
			c["docs"] = map[string]string{"*": "read", "n*": "write", "notes-?": "read"}
		}), ecKey), doc: "notes-1", access: "write"},
		{name: "no grant", token: sign(t, HS256, "", base(func(c map[string]any) {
			c["docs"] = map[string]string{"notes-*": "write"}
		}), secret), doc: "plan", access: "none", reason: ReasonNoGrant},
		{name: "no docs claim", token: sign(t, HS256, "", base(func(c map[string]any) { delete(c, "docs") }), secret), doc: "x", access: "none", reason: ReasonNoGrant},
		{name: "bad docs claim", token: sign(t, HS256, "", base(func(c map[string]any) { c["docs"] = []string{"*"} }), secret), doc: "x", access: "none", reason: "docs claim"},
		{name: "no tenant", token: sign(t, HS256, "", base(func(c map[string]any) { delete(c, "tenant") }), secret), doc: "notes-1", access: "write", tenant: "", subject: "ann"},
		{name: "tenant not a string", token: sign(t, HS256, "", base(func(c map[string]any) { c["tenant"] = 7 }), secret), doc: "notes-1", access: "none", reason: "tenant"},
		{name: "aud array", token: sign(t, HS256, "", base(func(c map[string]any) { c["aud"] = []string{"other", "opstream"} }), secret), doc: "notes-1", access: "write"},
		{name: "wrong audience", token: sign(t, HS256, "", base(func(c map[string]any) { c["aud"] = "other" }), secret), doc: "notes-1", access: "none", reason: ReasonWrongAud},
		{name: "wrong audience array", token: sign(t, HS256, "", base(func(c map[string]any) { c["aud"] = []string{"a", "b"} }), secret), doc: "notes-1", access: "none", reason: ReasonWrongAud},
		{name: "no audience", token: sign(t, HS256, "", base(func(c map[string]any) { delete(c, "aud") }), secret), doc: "notes-1", access: "none", reason: ReasonWrongAud},
		{name: "wrong issuer", token: sign(t, HS256, "", base(func(c map[string]any) { c["iss"] = "https://evil.example" }), secret), doc: "notes-1", access: "none", reason: ReasonWrongIssuer},
		{name: "expired", token: sign(t, RS256, "", base(func(c map[string]any) { c["exp"] = now/1000 - 31 }), rsaKey), doc: "notes-1", access: "none", reason: ReasonExpired},
		{name: "expired within leeway", token: sign(t, HS256, "", base(func(c map[string]any) { c["exp"] = now/1000 - 29 }), secret), doc: "notes-1", access: "write"},
		{name: "not yet valid", token: sign(t, ES256, "", base(func(c map[string]any) { c["nbf"] = now/1000 + 31 }), ecKey), doc: "notes-1", access: "none", reason: ReasonNotYetValid},
		{name: "nbf within leeway", token: sign(t, HS256, "", base(func(c map[string]any) { c["nbf"] = now/1000 + 29 }), secret), doc: "notes-1", access: "write"},
		{name: "exp not a number", token: sign(t, HS256, "", base(func(c map[string]any) { c["exp"] = "soon" }), secret), doc: "notes-1", access: "none", reason: "exp"},
		{name: "bad signature HS256", token: sign(t, HS256, "", good, []byte(testSecret+"x")), doc: "notes-1", access: "none", reason: ReasonBadSignature},
		{name: "bad signature RS256", token: sign(t, RS256, "", good, rsaKey2), doc: "notes-1", access: "none", reason: ReasonBadSignature},
		{name: "bad signature RS256 kid", token: sign(t, RS256, "r1", good, rsaKey2), doc: "notes-1", access: "none", reason: ReasonBadSignature},
		{name: "tampered claims", token: tamper(sign(t, ES256, "", good, ecKey)), doc: "notes-1", access: "none", reason: ReasonBadSignature},
		{name: "ES256 signature in ASN.1", token: asn1Sig(t, sign(t, ES256, "", good, ecKey)), doc: "notes-1", access: "none", reason: ReasonBadSignature},
		{name: "alg none", token: sign(t, "none", "", good, nil), doc: "notes-1", access: "none", reason: ReasonAlgNone},
		{name: "alg NONE", token: sign(t, "NONE", "", good, nil), doc: "notes-1", access: "none", reason: ReasonAlgNone},
		{name: "alg not supported", token: sign(t, "HS512", "", good, secret), doc: "notes-1", access: "none", reason: "not allowed"},
		{name: "kid of the other algorithm", token: sign(t, ES256, "r1", good, ecKey), doc: "notes-1", access: "none", reason: "is for RS256"},
		{name: "alg confusion PEM as HMAC secret", token: sign(t, HS256, "", good, []byte(rsaPEM)), doc: "notes-1", access: "none", reason: ReasonBadSignature},
		{name: "no token", doc: "notes-1", access: "none", reason: ReasonNoToken},
		{name: "malformed two parts", token: "abc.def", doc: "notes-1", access: "none", reason: ReasonMalformed},
		{name: "malformed four parts", token: "a.b.c.d", doc: "notes-1", access: "none", reason: ReasonMalformed},
		{name: "malformed base64", token: "!!!.e30.", doc: "notes-1", access: "none", reason: ReasonMalformed},
		{name: "malformed header json", token: b64.EncodeToString([]byte("{")) + ".e30.", doc: "notes-1", access: "none", reason: ReasonMalformed},
		{name: "crit header", token: critToken(t), doc: "notes-1", access: "none", reason: "crit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := v.Decide(authorizer.Request{Action: "join", DocID: tt.doc, Token: tt.token, NowUnixMillis: now})
			if d.Access != tt.access {
				t.Fatalf("access %q, want %q (%+v)", d.Access, tt.access, d)
			}
			if tt.reason != "" && !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q, want it to contain %q", d.Reason, tt.reason)
			}
			if tt.access != "none" && d.Reason == "" {
				t.Errorf("grant without a reason: %+v", d)
			}
			if tt.tenant != "" && d.Tenant != tt.tenant {
				t.Errorf("tenant %q, want %q", d.Tenant, tt.tenant)
			}
			if tt.subject != "" && d.Subject != tt.subject {
				t.Errorf("subject %q, want %q", d.Subject, tt.subject)
			}
			if tt.wantExpiresAtMilli != 0 && d.ExpiresAtUnixMillis != tt.wantExpiresAtMilli {
				t.Errorf("expiresAt %d, want %d", d.ExpiresAtUnixMillis, tt.wantExpiresAtMilli)
			}
		})
	}
}

// tamper changes the claims of a token, keeping its signature.
func tamper(tok string) string {
	p := strings.Split(tok, ".")
	p[1] = b64.EncodeToString([]byte(`{"sub":"mallory","docs":{"*":"write"}}`))
	return strings.Join(p, ".")
}

// asn1Sig re-encodes an ES256 token's raw r||s signature as ASN.1 DER (what some libraries
// wrongly send): it must be refused.
func asn1Sig(t *testing.T, tok string) string {
	p := strings.Split(tok, ".")
	raw, err := b64.DecodeString(p[2])
	if err != nil || len(raw) != 64 {
		t.Fatal("bad ES256 signature")
	}
	der := []byte{0x30, 68, 0x02, 32}
	der = append(der, raw[:32]...)
	der = append(der, 0x02, 32)
	der = append(der, raw[32:]...)
	p[2] = b64.EncodeToString(der)
	return strings.Join(p, ".")
}

// critToken has a crit header, which this module supports no extension of (RFC 7515 4.1.11).
func critToken(t *testing.T) string {
	t.Helper()
	h := b64.EncodeToString([]byte(`{"alg":"HS256","crit":["exp"]}`))
	c := b64.EncodeToString([]byte(`{"docs":{"*":"write"}}`))
	return h + "." + c + ".AAAA"
}

func TestUnknownKid(t *testing.T) {
	testKeys(t)
	v, err := Parse(mustJSON(t, map[string]any{"jwks": map[string]any{"keys": []any{rsaJWK("r1", &rsaKey.PublicKey)}}}))
	if err != nil {
		t.Fatal(err)
	}
	d := v.Decide(authorizer.Request{DocID: "x", Token: sign(t, RS256, "r2", map[string]any{"docs": map[string]string{"*": "write"}}, rsaKey), NowUnixMillis: now})
	if d.Access != "none" || d.Reason != ReasonUnknownKid {
		t.Fatalf("unknown kid: %+v", d)
	}
	// Without a kid, every JWKS key of the algorithm is tried.
	d = v.Decide(authorizer.Request{DocID: "x", Token: sign(t, RS256, "", map[string]any{"docs": map[string]string{"*": "write"}}, rsaKey), NowUnixMillis: now})
	if d.Access != "write" {
		t.Fatalf("no kid: %+v", d)
	}
}

func TestAlgorithmsRestrict(t *testing.T) {
	testKeys(t)
	// Only RS256 keys: HS256 is not allowed at all, so a token "signed" with the public key
	// PEM as HMAC secret is refused before any HMAC is computed.
	rsaPEM := pemOf(t, &rsaKey.PublicKey)
	v, err := Parse(mustJSON(t, map[string]any{"publicKeys": []string{rsaPEM}}))
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"docs": map[string]string{"*": "write"}, "sub": "x"}
	if d := v.Decide(authorizer.Request{DocID: "d", Token: sign(t, HS256, "", claims, []byte(rsaPEM)), NowUnixMillis: now}); d.Access != "none" || d.Reason != `algorithm "HS256" not allowed` {
		t.Fatalf("HS256 with the RSA PEM as secret: %+v", d)
	}
	if d := v.Decide(authorizer.Request{DocID: "d", Token: sign(t, RS256, "", claims, rsaKey), NowUnixMillis: now}); d.Access != "write" || d.ExpiresAtUnixMillis != 0 {
		t.Fatalf("RS256 without exp: %+v", d)
	}
	// An explicit list narrows what the keys allow.
	v, err = Parse(mustJSON(t, map[string]any{"algorithms": []string{"ES256"}, "hs256Secret": testSecret, "publicKeys": []string{pemOf(t, &ecKey.PublicKey)}}))
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Decide(authorizer.Request{DocID: "d", Token: sign(t, HS256, "", claims, []byte(testSecret)), NowUnixMillis: now}); d.Access != "none" || !strings.Contains(d.Reason, "not allowed") {
		t.Fatalf("HS256 outside algorithms: %+v", d)
	}
}

func TestCustomClaimNames(t *testing.T) {
	v, err := Parse([]byte(`{"hs256Secret":"` + testSecret + `","leewaySeconds":0,"claims":{"docs":"https://opstream/docs","tenant":"org","subject":"email"}}`))
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, HS256, "", map[string]any{"https://opstream/docs": map[string]string{"a/*": "read"}, "org": "globex", "email": "ann@x", "exp": now / 1000}, []byte(testSecret))
	if d := v.Decide(authorizer.Request{DocID: "a/b", Token: tok, NowUnixMillis: now - 1}); d.Access != "read" || d.Tenant != "globex" || d.Subject != "ann@x" {
		t.Fatalf("custom claims: %+v", d)
	}
	if d := v.Decide(authorizer.Request{DocID: "a/b", Token: tok, NowUnixMillis: now}); d.Reason != ReasonExpired {
		t.Fatalf("zero leeway at exp: %+v", d)
	}
}

func TestParseRefusesBadConfig(t *testing.T) {
	testKeys(t)
	for _, tt := range []struct{ name, cfg, want string }{
		{"unknown key", `{"hs256Secret":"` + testSecret + `","secret":"x"}`, `unknown field "secret"`},
		{"unknown claims key", `{"hs256Secret":"` + testSecret + `","claims":{"role":"r"}}`, `unknown field "role"`},
		{"no key", `{}`, "no key"},
		{"short secret", `{"hs256Secret":"short"}`, "at least 32 bytes"},
		{"PEM as secret", string(mustJSON(t, map[string]any{"hs256Secret": pemOf(t, &rsaKey.PublicKey)})), "looks like a PEM"},
		{"alg without key", `{"algorithms":["RS256"],"hs256Secret":"` + testSecret + `"}`, "no key for it"},
		{"alg none", `{"algorithms":["none"],"hs256Secret":"` + testSecret + `"}`, "not supported"},
		{"bad PEM", `{"publicKeys":["nope"]}`, "not a PEM block"},
		{"small RSA", string(mustJSON(t, map[string]any{"jwks": map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}}}})), "want at least 2048"},
		{"jwk without kid", string(mustJSON(t, map[string]any{"jwks": map[string]any{"keys": []any{ecJWK("", &ecKey.PublicKey)}}})), "no kid"},
		{"jwk alg mismatch", string(mustJSON(t, map[string]any{"jwks": map[string]any{"keys": []any{func() map[string]any { k := ecJWK("e", &ecKey.PublicKey); k["alg"] = "RS256"; return k }()}}})), "does not fit"},
		{"duplicate kid", string(mustJSON(t, map[string]any{"jwks": map[string]any{"keys": []any{ecJWK("e", &ecKey.PublicKey), ecJWK("e", &ecKey.PublicKey)}}})), "duplicate kid"},
		{"negative leeway", `{"hs256Secret":"` + testSecret + `","leewaySeconds":-1}`, "leewaySeconds"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.cfg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzDecide(f *testing.F) {
	testKeys(f)
	v, err := Parse(mustJSON(f, map[string]any{"hs256Secret": testSecret, "publicKeys": []string{pemOf(f, &ecKey.PublicKey)}}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sign(f, HS256, "", map[string]any{"docs": map[string]string{"*": "write"}}, []byte(testSecret)))
	f.Add(sign(f, ES256, "k", map[string]any{"exp": 1.5, "aud": []any{1}}, ecKey))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		d := v.Decide(authorizer.Request{DocID: "d", Token: tok, NowUnixMillis: now})
		if d.Access != "none" && d.Access != "read" && d.Access != "write" {
			t.Fatalf("access %q", d.Access)
		}
	})
}

// TestDecideConcurrent: a Verifier is safe for concurrent use (its reused buffers are taken by
// one call at a time; the others make their own). Run with -race.
func TestDecideConcurrent(t *testing.T) {
	config, tokens := benchSetup(t)
	v, err := Parse(config)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				alg := []string{HS256, RS256, ES256}[(g+i)%3]
				doc, want := "notes-1", authorizer.AccessWrite
				if i%2 == 1 {
					doc, want = "plan", authorizer.AccessRead
				}
				d := v.Decide(authorizer.Request{DocID: doc, Token: tokens[alg], NowUnixMillis: now})
				if d.Access != want || d.Subject != "ann" || d.Tenant != "acme" || !strings.Contains(d.Reason, want) {
					t.Errorf("%s %s: %+v", alg, doc, d)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestParseClaims covers the hand-written claims scanner on the edges a signed token could
// still carry: the members it reads must be valid JSON of their types. (Members it skips are
// checked less strictly: they are signed, and ignored.)
func TestParseClaims(t *testing.T) {
	v, err := Parse([]byte(`{"hs256Secret":"` + testSecret + `","audience":"opstream"}`))
	if err != nil {
		t.Fatal(err)
	}
	ok := []struct{ in, sub string }{
		{`{}`, ""},
		{` { "sub" : "ann" , "iat" : 1.5e3 , "x" : [true, false, null, {"a": -0}] } `, "ann"},
		{`{"sub":"a\"nn\u00e9"}`, "a\"nné"},
		{`{"sub":"0123456789abcdefghij\\klmnop"}`, "0123456789abcdefghij\\klmnop"},
		{`{"sub":"ünïcødé, long enough for two words"}`, "ünïcødé, long enough for two words"},
		{`{"exp":1795000600,"nbf":-1,"aud":["x","opstream"],"docs":{"a":"read","b":null}}`, ""},
		{`{"exp":1e9,"nbf":0}`, ""},
		{`{"docs":null,"tenant":null,"sub":null}`, ""},
	}
	for _, tt := range ok {
		var c claims
		if err := v.parseClaims([]byte(tt.in), &c); err != nil || string(c.sub) != tt.sub {
			t.Errorf("%s: sub %q, %v; want %q", tt.in, c.sub, err, tt.sub)
		}
	}
	bad := []string{
		``, `[]`, `{`, `{"sub":"ann"`, `{"sub":"ann"}x`, `{"sub":"ann",}`, `{"sub" "ann"}`,
		`{"sub":"a` + "\x01" + `nn"}`, `{"sub":"ann` + "\n" + `"}`, `{"sub":"\x"}`, `{"sub":1}`,
		`{"exp":01}`, `{"exp":+1}`, `{"exp":1.}`, `{"exp":.5}`, `{"exp":1e}`, `{"exp":-}`,
		`{"exp":"1"}`, `{"exp":1e400}`, `{"iat":01}`, `{"iat":tru}`, `{"iat":1.2.3}`,
		`{"aud":[1]}`, `{"aud":["a",]}`, `{"docs":{"a":1}}`, `{"docs":["a"]}`, `{"x":[1,}`,
		`{"x":}`,
	}
	for _, in := range bad {
		var c claims
		if err := v.parseClaims([]byte(in), &c); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}
