package pluginhost

import (
	"context"
	"crypto/x509"
	"sync"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/opstream/opstream/pluginsdk/hostcrypto"
)

// hostModule is the module of the host functions the ABI grants guests.
const hostModule = "opstream"

// hostFuncs are the functions of hostModule, by name.
var hostFuncs = map[string]bool{"crypto_verify": true, "crypto_verify_jws": true}

// keyCache keeps parsed public keys by their DER bytes, so a guest checking many tokens
// against the same few keys pays the parse once. Bounded: cleared when full.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]any
}

const maxCachedKeys = 256

func (c *keyCache) parse(der []byte) (any, error) {
	c.mu.Lock()
	k, ok := c.keys[string(der)]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.keys) >= maxCachedKeys {
		clear(c.keys)
	}
	c.keys[string(der)] = k
	c.mu.Unlock()
	return k, nil
}

// instantiateHostFuncs adds the opstream host module to rt:
//
//	crypto_verify(alg, key_ptr, key_len, msg_ptr, msg_len, sig_ptr, sig_len i32) -> i32
//
// checks a signature natively (see package hostcrypto for the algorithms and key formats) and
// returns 1 (valid), 0 (invalid) or -1 (bad arguments: unknown algorithm, unusable key, or a
// range outside guest memory).
//
//	crypto_verify_jws(alg, key_ptr, key_len, jws_ptr, jws_len, out_ptr, out_cap i32) -> i32
//
// checks the signature of a compact JWS (header.payload.signature, base64url) natively: the
// host decodes the signature and hashes the signing input, so the guest does neither. When the
// signature is good it decodes the payload into out and returns its length (>= 0); otherwise
// -2 (bad signature), -3 (signature not base64url), -4 (payload not base64url), -5 (not three
// dot-separated parts) or -1 (bad arguments: unknown algorithm, unusable key, out_cap below
// the payload's decoded size, or a range outside guest memory). See
// hostcrypto.VerifyJWSNative.
func instantiateHostFuncs(ctx context.Context, rt wazero.Runtime) error {
	keys := &keyCache{keys: make(map[string]any)}
	i32 := api.ValueTypeI32
	_, err := rt.NewHostModuleBuilder(hostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, mod api.Module, stack []uint64) {
			mem := mod.Memory()
			alg := hostcrypto.Alg(api.DecodeI32(stack[0]))
			key, ok1 := readGuest(mem, stack[1], stack[2])
			msg, ok2 := readGuest(mem, stack[3], stack[4])
			sig, ok3 := readGuest(mem, stack[5], stack[6])
			res := int32(-1)
			if ok1 && ok2 && ok3 {
				valid, err := hostcrypto.VerifyNative(alg, key, msg, sig, keys.parse)
				switch {
				case err != nil:
				case valid:
					res = 1
				default:
					res = 0
				}
			}
			stack[0] = api.EncodeI32(res)
		}), []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}).
		Export("crypto_verify").
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, mod api.Module, stack []uint64) {
			mem := mod.Memory()
			alg := hostcrypto.Alg(api.DecodeI32(stack[0]))
			key, ok1 := readGuest(mem, stack[1], stack[2])
			jws, ok2 := readGuest(mem, stack[3], stack[4])
			out, ok3 := readGuest(mem, stack[5], stack[6])
			res := int32(-1)
			if ok1 && ok2 && ok3 {
				// jws is only read, and only during this call: view it as a string without a copy.
				n, err := hostcrypto.VerifyJWSNative(alg, key, unsafe.String(unsafe.SliceData(jws), len(jws)), out, keys.parse)
				res = hostcrypto.JWSResult(n, err)
			}
			stack[0] = api.EncodeI32(res)
		}), []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}).
		Export("crypto_verify_jws").
		Instantiate(ctx)
	return err
}

// readGuest returns the n bytes of guest memory at ptr (a view, valid during the host call),
// or false for a negative length or a range outside memory.
func readGuest(mem api.Memory, ptr, n uint64) ([]byte, bool) {
	if int32(n) < 0 {
		return nil, false
	}
	if n == 0 {
		return nil, true
	}
	return mem.Read(api.DecodeU32(ptr), api.DecodeU32(n))
}
