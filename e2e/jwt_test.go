package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opstream/opstream/protocol"
)

const jwtSecret = "e2e-secret-0123456789abcdef0123456789"

// jwtSign makes a compact JWS of claims signed with k: a []byte (HS256), *rsa.PrivateKey
// (RS256) or *ecdsa.PrivateKey (ES256).
func jwtSign(t *testing.T, claims map[string]any, k any) string {
	t.Helper()
	alg := "HS256"
	switch k.(type) {
	case *rsa.PrivateKey:
		alg = "RS256"
	case *ecdsa.PrivateKey:
		alg = "ES256"
	}
	enc := base64.RawURLEncoding
	hb, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	cb, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signed := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	digest := sha256.Sum256([]byte(signed))
	var sig []byte
	switch k := k.(type) {
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(signed))
		sig = m.Sum(nil)
	case *rsa.PrivateKey:
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return signed + "." + enc.EncodeToString(sig)
}

func jwtPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// jwtServer starts a server whose authorizer is the shipped jwt module, trusting jwtSecret and
// the public halves of rsaKey and ecKey, for audience "opstream".
func jwtServer(t *testing.T, rsaKey *rsa.PrivateKey, ecKey *ecdsa.PrivateKey) *server {
	t.Helper()
	module, err := filepath.Abs(filepath.Join(filepath.Dir(binPath), "plugins", "jwt.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("jwt module missing (make build): %v", err)
	}
	config, err := json.Marshal(map[string]any{
		"hs256Secret": jwtSecret,
		"publicKeys":  []string{jwtPEM(t, &rsaKey.PublicKey), jwtPEM(t, &ecKey.PublicKey)},
		"audience":    "opstream",
		"issuer":      "https://id.example",
	})
	if err != nil {
		t.Fatal(err)
	}
	// JSON is YAML: the config block goes in as a flow mapping.
	cfg := writeConfig(t, "plugins:\n  authorizer:\n    module: "+module+"\n    config: "+string(config)+"\n")
	return startServer(t, "", "--config", cfg)
}

func TestJWTAuthorizer(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := jwtServer(t, rsaKey, ecKey)

	now := time.Now().Unix()
	claims := func(docs map[string]string, edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://id.example", "aud": []string{"opstream"}, "sub": "ann",
			"tenant": "acme", "exp": now + 600, "docs": docs}
		if edit != nil {
			edit(c)
		}
		return c
	}
	write := map[string]string{"notes-*": "write", "*": "read"}
	read := map[string]string{"*": "read"}

	// A write token of each algorithm can join and submit.
	for i, k := range []any{[]byte(jwtSecret), rsaKey, ecKey} {
		tok := jwtSign(t, claims(write, nil), k)
		c := dialRaw(t, s, tok)
		c.send(`{"type":"join","ref":1,"doc":"notes-1","docType":"text","protocol":1}`)
		if m := c.next(byRef(1)); m.Type != "joined" || m.Access != "write" {
			t.Fatalf("writer %d join: %+v", i, m)
		}
		c.send(fmt.Sprintf(`{"type":"submit","ref":2,"doc":"notes-1","baseRevision":0,"op":["x"],"clientId":"w%d","seq":1}`, i))
		if m := c.next(byRef(2)); m.Type != "ack" {
			t.Fatalf("writer %d submit: %+v", i, m)
		}
	}

	// A read token joins but cannot submit, over WebSocket or HTTP; it can GET.
	reader := jwtSign(t, claims(read, nil), ecKey)
	c := dialRaw(t, s, reader)
	c.send(`{"type":"join","ref":1,"doc":"notes-1","docType":"text","protocol":1}`)
	if m := c.next(byRef(1)); m.Type != "joined" || m.Access != "read" {
		t.Fatalf("reader join: %+v", m)
	}
	c.send(`{"type":"submit","ref":2,"doc":"notes-1","baseRevision":3,"op":["r"],"clientId":"r","seq":1}`)
	if m := c.next(byRef(2)); m.Type != "error" || m.Code != protocol.CodeForbidden {
		t.Fatalf("reader submit: %+v", m)
	}
	body := map[string]any{"type": "text", "baseRevision": 3, "op": []any{"r"}, "clientId": "r", "seq": 1}
	var r submitResp
	if code := httpJSONAuth(t, "POST", s.url("/v1/docs/notes-1/ops"), reader, body, &r); code != 403 || r.Error == nil || r.Error.Code != "Forbidden" {
		t.Fatalf("reader POST: %d %+v", code, r.Error)
	}
	var d docResp
	if code := httpJSONAuth(t, "GET", s.url("/v1/docs/notes-1"), reader, nil, &d); code != 200 || d.Revision != 3 || string(d.Snapshot) != `"xxx"` {
		t.Fatalf("reader GET: %d %+v", code, d)
	}

	// Refused tokens: Forbidden on join and on HTTP GET.
	for _, bad := range []struct{ name, token string }{
		{"expired", jwtSign(t, claims(write, func(c map[string]any) { c["exp"] = now - 3600 }), ecKey)},
		{"not yet valid", jwtSign(t, claims(write, func(c map[string]any) { c["nbf"] = now + 3600 }), []byte(jwtSecret))},
		{"badly signed", jwtSign(t, claims(write, nil), otherEC)},
		{"wrong secret", jwtSign(t, claims(write, nil), []byte(jwtSecret+"!"))},
		{"wrong audience", jwtSign(t, claims(write, func(c map[string]any) { c["aud"] = "elsewhere" }), rsaKey)},
		{"wrong issuer", jwtSign(t, claims(write, func(c map[string]any) { c["iss"] = "https://evil.example" }), rsaKey)},
		{"alg confusion", jwtSign(t, claims(write, nil), []byte(jwtPEM(t, &rsaKey.PublicKey)))},
		{"garbage", "not-a-jwt"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			c := dialRaw(t, s, bad.token)
			c.send(`{"type":"join","ref":1,"doc":"notes-1","docType":"text","protocol":1}`)
			if m := c.next(byRef(1)); m.Type != "error" || m.Code != protocol.CodeForbidden {
				t.Fatalf("join: %+v", m)
			}
			if code := httpJSONAuth(t, "GET", s.url("/v1/docs/notes-1"), bad.token, nil, nil); code != 403 {
				t.Fatalf("GET: %d", code)
			}
		})
	}

	// The tenant claim picks the namespace: notes-1 does not exist in another tenant.
	globex := jwtSign(t, claims(write, func(c map[string]any) { c["tenant"] = "globex" }), []byte(jwtSecret))
	if code := httpJSONAuth(t, "GET", s.url("/v1/docs/notes-1"), globex, nil, nil); code != 404 {
		t.Fatalf("other tenant GET: %d, want 404", code)
	}
}
