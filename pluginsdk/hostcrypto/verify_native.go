//go:build !wasip1

package hostcrypto

// Verify checks sig over msg with key (see Alg for the key formats).
func Verify(alg Alg, key, msg, sig []byte) (bool, error) {
	return VerifyNative(alg, key, msg, sig, nil)
}

// VerifyJWS checks the signature of the compact JWS jws with key and decodes its payload into
// out, which must hold PayloadCap(jws) bytes; see VerifyJWSNative for the errors.
func VerifyJWS(alg Alg, key []byte, jws string, out []byte) (int, error) {
	return VerifyJWSNative(alg, key, jws, out, nil)
}
