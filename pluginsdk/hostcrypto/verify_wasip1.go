//go:build wasip1

package hostcrypto

import "unsafe"

//go:wasmimport opstream crypto_verify
func cryptoVerify(alg int32, key unsafe.Pointer, keyLen int32, msg unsafe.Pointer, msgLen int32, sig unsafe.Pointer, sigLen int32) int32

//go:wasmimport opstream crypto_verify_jws
//go:noescape
func cryptoVerifyJWS(alg int32, key unsafe.Pointer, keyLen int32, jws unsafe.Pointer, jwsLen int32, out unsafe.Pointer, outCap int32) int32

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// Verify checks sig over msg with key (see Alg for the key formats), on the host.
func Verify(alg Alg, key, msg, sig []byte) (bool, error) {
	switch cryptoVerify(int32(alg), ptr(key), int32(len(key)), ptr(msg), int32(len(msg)), ptr(sig), int32(len(sig))) {
	case 1:
		return true, nil
	case 0:
		return false, nil
	}
	return false, ErrBadKey
}

// VerifyJWS checks the signature of the compact JWS jws with key and decodes its payload into
// out, which must hold PayloadCap(jws) bytes, on the host (opstream.crypto_verify_jws); see
// VerifyJWSNative for the errors.
func VerifyJWS(alg Alg, key []byte, jws string, out []byte) (int, error) {
	var j unsafe.Pointer
	if len(jws) > 0 {
		j = unsafe.Pointer(unsafe.StringData(jws))
	}
	res := cryptoVerifyJWS(int32(alg), ptr(key), int32(len(key)), j, int32(len(jws)), ptr(out), int32(len(out)))
	if res >= 0 {
		return int(res), nil
	}
	return 0, jwsError(res)
}
