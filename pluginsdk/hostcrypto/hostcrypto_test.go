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
	"testing"
)

func TestVerify(t *testing.T) {
	msg := []byte("header.claims")
	digest := sha256.Sum256(msg)

	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rder, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	rsig, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:])

	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eder, _ := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	r, s, _ := ecdsa.Sign(rand.Reader, ek, digest[:])
	esig := make([]byte, 64)
	r.FillBytes(esig[:32])
	s.FillBytes(esig[32:])

	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write(msg)
	hsig := mac.Sum(nil)

	tests := []struct {
		name      string
		alg       Alg
		key, sig  []byte
		msg       []byte
		valid     bool
		wantError bool
	}{
		{"rs256", RS256, rder, rsig, msg, true, false},
		{"rs256 other msg", RS256, rder, rsig, []byte("x"), false, false},
		{"es256", ES256, eder, esig, msg, true, false},
		{"es256 short sig", ES256, eder, esig[:63], msg, false, false},
		{"hs256", HS256, []byte("secret"), hsig, msg, true, false},
		{"hs256 wrong secret", HS256, []byte("Secret"), hsig, msg, false, false},
		{"rsa key for es256", ES256, rder, esig, msg, false, true},
		{"garbage key", RS256, []byte("nope"), rsig, msg, false, true},
		{"unknown alg", Alg(9), rder, rsig, msg, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Verify(tt.alg, tt.key, tt.msg, tt.sig)
			if ok != tt.valid || (err != nil) != tt.wantError {
				t.Fatalf("Verify = %v, %v; want %v, error %v", ok, err, tt.valid, tt.wantError)
			}
		})
	}
}
