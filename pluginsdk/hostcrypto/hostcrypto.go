// Package hostcrypto gives guest modules signature checks done by the host, natively: pure Go
// crypto compiled to WASM runs 10-100x slower than native (an RS256 check took 0.5-2.8 ms in a
// guest against 35 µs native). In a module (GOOS=wasip1) Verify calls the host function
// opstream.crypto_verify, and VerifyJWS opstream.crypto_verify_jws; elsewhere (tests, tools)
// they run the same checks with the standard library, so code using them is tested natively.
//
// VerifyJWS is the fast path for tokens: the host splits the compact JWS, decodes the
// signature, hashes the signing input and decodes the payload, so the guest loops over none of
// those bytes (in a sandboxed runtime each loop iteration of a guest is a check that leaves
// compiled code, about 50-150 ns).
package hostcrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"math/big"
)

// Alg is a signature algorithm. The numbers are part of the WASM ABI.
type Alg int32

// Algorithms.
const (
	// RS256: RSASSA-PKCS1-v1_5 with SHA-256; key is a PKIX (DER) RSA public key.
	RS256 Alg = 1
	// ES256: ECDSA P-256 with SHA-256, signature r||s (64 bytes); key is a PKIX (DER) EC key.
	ES256 Alg = 2
	// HS256: HMAC-SHA256; key is the secret; compared in constant time.
	HS256 Alg = 3
)

// ErrBadKey reports a key the host could not use for the algorithm.
var ErrBadKey = errors.New("hostcrypto: key unusable for the algorithm")

// VerifyNative checks sig over msg with key, with the standard library. It is what the host
// runs for crypto_verify and what Verify runs outside WASM.
func VerifyNative(alg Alg, key, msg, sig []byte, parse func([]byte) (any, error)) (bool, error) {
	if alg == HS256 {
		mac := hmac.New(sha256.New, key)
		mac.Write(msg)
		return hmac.Equal(mac.Sum(nil), sig), nil
	}
	if parse == nil {
		parse = x509.ParsePKIXPublicKey
	}
	pub, err := parse(key)
	if err != nil {
		return false, ErrBadKey
	}
	digest := sha256.Sum256(msg)
	switch alg {
	case RS256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return false, ErrBadKey
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil, nil
	case ES256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return false, ErrBadKey
		}
		if len(sig) != 64 {
			return false, nil
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest[:], r, s), nil
	}
	return false, ErrBadKey
}
