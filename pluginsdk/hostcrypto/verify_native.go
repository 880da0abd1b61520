//go:build !wasip1

package hostcrypto

// Verify checks sig over msg with key (see Alg for the key formats).
func Verify(alg Alg, key, msg, sig []byte) (bool, error) {
	return VerifyNative(alg, key, msg, sig, nil)
}
