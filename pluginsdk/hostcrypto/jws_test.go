package hostcrypto

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
	"errors"
	"strings"
	"testing"
)

func TestVerifyJWS(t *testing.T) {
	enc := base64.RawURLEncoding
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rder, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eder, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	secret := []byte("0123456789abcdef0123456789abcdef")
	payload := `{"sub":"ann"}`
	// sign returns signed.<signature of signed> for alg.
	sign := func(alg Alg, signed string) string {
		digest := sha256.Sum256([]byte(signed))
		var sig []byte
		switch alg {
		case RS256:
			sig, _ = rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:])
		case ES256:
			r, s, _ := ecdsa.Sign(rand.Reader, ek, digest[:])
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		case HS256:
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(signed))
			sig = m.Sum(nil)
		}
		return signed + "." + enc.EncodeToString(sig)
	}
	signed := enc.EncodeToString([]byte(`{"alg":"X"}`)) + "." + enc.EncodeToString([]byte(payload))
	rs, es, hs := sign(RS256, signed), sign(ES256, signed), sign(HS256, signed)
	last := func(tok string) string { return tok[strings.LastIndexByte(tok, '.')+1:] }
	tests := []struct {
		name string
		alg  Alg
		key  []byte
		jws  string
		out  int // len(out); -1: PayloadCap
		want error
	}{
		{"rs256", RS256, rder, rs, -1, nil},
		{"es256", ES256, eder, es, -1, nil},
		{"hs256", HS256, secret, hs, -1, nil},
		{"rs256 tampered payload", RS256, rder, strings.Replace(rs, ".", ".e30", 1), -1, ErrBadSignature},
		{"es256 tampered payload", ES256, eder, strings.Replace(es, ".", ".e30", 1), -1, ErrBadSignature},
		{"hs256 wrong secret", HS256, []byte("other secret"), hs, -1, ErrBadSignature},
		{"es256 short signature", ES256, eder, signed + "." + last(es)[:84], -1, ErrBadSignature},
		{"signature with padding", HS256, secret, hs + "=", -1, ErrSignatureEncoding},
		{"signature not base64url", RS256, rder, signed + ".!!", -1, ErrSignatureEncoding},
		{"signature std base64", HS256, secret, signed + "." + base64.RawStdEncoding.EncodeToString([]byte{0xfb, 0xff}), -1, ErrSignatureEncoding},
		{"payload not base64url", HS256, secret, sign(HS256, "e30.!!!"), -1, ErrPayloadEncoding},
		{"two parts", HS256, secret, "e30.e30", -1, ErrNotCompact},
		{"four parts", HS256, secret, "e30.e30.e30." + last(hs), -1, ErrNotCompact},
		{"no dot", HS256, secret, "e30", -1, ErrNotCompact},
		{"out too small", RS256, rder, rs, len(payload) - 1, ErrBadKey},
		{"rsa key for es256", ES256, rder, es, -1, ErrBadKey},
		{"garbage key", RS256, []byte("nope"), rs, -1, ErrBadKey},
		{"unknown alg", Alg(9), rder, rs, -1, ErrBadKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.out
			if n < 0 {
				n = PayloadCap(tt.jws)
			}
			out := make([]byte, n)
			got, err := VerifyJWS(tt.alg, tt.key, tt.jws, out)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyJWS = %d, %v; want %v", got, err, tt.want)
			}
			if err == nil && string(out[:got]) != payload {
				t.Fatalf("payload %q, want %q", out[:got], payload)
			}
			// The host function's result code carries the same outcome.
			if res := JWSResult(got, err); (res >= 0) != (err == nil) || (res < 0 && jwsError(res) != err) {
				t.Fatalf("JWSResult = %d for %v", res, err)
			}
		})
	}
}
