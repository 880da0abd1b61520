package hostcrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"unsafe"
)

// Results of VerifyJWS besides ErrBadKey. The numbers of the host function are in
// JWSResult.
var (
	// ErrBadSignature: the signature does not verify with the key.
	ErrBadSignature = errors.New("hostcrypto: bad signature")
	// ErrSignatureEncoding: the signature part is not base64url without padding.
	ErrSignatureEncoding = errors.New("hostcrypto: signature is not base64url")
	// ErrPayloadEncoding: the signature is good but the payload part is not base64url without
	// padding.
	ErrPayloadEncoding = errors.New("hostcrypto: payload is not base64url")
	// ErrNotCompact: the token is not three dot-separated parts.
	ErrNotCompact = errors.New("hostcrypto: not a compact JWS (three dot-separated parts)")
)

// Results of the host function crypto_verify_jws below zero. They are part of the WASM ABI.
const (
	jwsBadArgs         = -1 // unknown algorithm, unusable key, out too small, range outside memory
	jwsBadSignature    = -2
	jwsSigEncoding     = -3
	jwsPayloadEncoding = -4
	jwsNotCompact      = -5
)

// JWSResult maps an error of VerifyJWSNative to the host function's result (see VerifyJWS);
// n is the payload length for a nil error.
func JWSResult(n int, err error) int32 {
	switch err {
	case nil:
		return int32(n)
	case ErrBadSignature:
		return jwsBadSignature
	case ErrSignatureEncoding:
		return jwsSigEncoding
	case ErrPayloadEncoding:
		return jwsPayloadEncoding
	case ErrNotCompact:
		return jwsNotCompact
	}
	return jwsBadArgs
}

func jwsError(res int32) error {
	switch res {
	case jwsBadSignature:
		return ErrBadSignature
	case jwsSigEncoding:
		return ErrSignatureEncoding
	case jwsPayloadEncoding:
		return ErrPayloadEncoding
	case jwsNotCompact:
		return ErrNotCompact
	}
	return ErrBadKey
}

var b64 = base64.RawURLEncoding.Strict()

// PayloadCap returns how many bytes VerifyJWS needs in out for the payload of jws. It is an
// upper bound computed from the length alone, so a guest does not scan the token for it.
func PayloadCap(jws string) int { return b64.DecodedLen(len(jws)) }

// VerifyJWSNative checks the signature of a compact JWS (RFC 7515: three base64url parts
// without padding, header.payload.signature) with key, and when it is good decodes the payload
// into out and returns its length. out must hold PayloadCap(jws) bytes. The signing input
// (header.payload) is hashed here, and the signature decoded here, so a guest does neither.
// parse turns a PKIX DER key into a public key (nil: x509.ParsePKIXPublicKey); a host caches
// parsed keys through it. Errors: ErrNotCompact, ErrBadKey (also for an out too small),
// ErrSignatureEncoding, ErrBadSignature, ErrPayloadEncoding.
func VerifyJWSNative(alg Alg, key []byte, jws string, out []byte, parse func([]byte) (any, error)) (int, error) {
	d1 := strings.IndexByte(jws, '.')
	d2 := strings.LastIndexByte(jws, '.')
	if d1 < 0 || d1 == d2 || strings.IndexByte(jws[d1+1:d2], '.') >= 0 {
		return 0, ErrNotCompact
	}
	if len(out) < b64.DecodedLen(d2-d1-1) {
		return 0, ErrBadKey
	}
	var sigBuf [512]byte // RSA up to 4096 bits without an allocation
	enc := jws[d2+1:]
	var sig []byte
	if n := b64.DecodedLen(len(enc)); n <= len(sigBuf) {
		sig = sigBuf[:n]
	} else {
		sig = make([]byte, n)
	}
	n, err := b64.Decode(sig, bytesOf(enc))
	if err != nil {
		return 0, ErrSignatureEncoding
	}
	sig = sig[:n]
	signed := jws[:d2]
	switch alg {
	case HS256:
		mac := hmac.New(sha256.New, key)
		mac.Write(bytesOf(signed))
		var sum [sha256.Size]byte
		if !hmac.Equal(mac.Sum(sum[:0]), sig) {
			return 0, ErrBadSignature
		}
	case RS256, ES256:
		if parse == nil {
			parse = x509.ParsePKIXPublicKey
		}
		pub, err := parse(key)
		if err != nil {
			return 0, ErrBadKey
		}
		digest := sha256.Sum256(bytesOf(signed))
		if alg == RS256 {
			k, ok := pub.(*rsa.PublicKey)
			if !ok {
				return 0, ErrBadKey
			}
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
				return 0, ErrBadSignature
			}
		} else {
			k, ok := pub.(*ecdsa.PublicKey)
			if !ok {
				return 0, ErrBadKey
			}
			if len(sig) != 64 {
				return 0, ErrBadSignature
			}
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(k, digest[:], r, s) {
				return 0, ErrBadSignature
			}
		}
	default:
		return 0, ErrBadKey
	}
	n, err = b64.Decode(out, bytesOf(jws[d1+1:d2]))
	if err != nil {
		return 0, ErrPayloadEncoding
	}
	return n, nil
}

// bytesOf views s as bytes without a copy, for reading only.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
