//go:build wasip1

// Command authorizer is a test authorizer for package pluginhost (raw ABI, no SDK).
// Config {"deny":true} denies everything; config containing "bad" is refused.
// A request whose token is "w" gets write, "loop" spins forever, "panic" panics,
// "garbage" returns a non-JSON decision; any other gets read.
package main

import (
	"bytes"
	"unsafe"
)

func main() {}

var (
	in   []byte
	out  []byte
	deny bool
)

func result(status byte, payload string) int64 {
	out = append(out[:0], status)
	out = append(out, payload...)
	return int64(uintptr(unsafe.Pointer(&out[0])))<<32 | int64(len(out))
}

//go:wasmexport opstream_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport opstream_info
func info() int64 {
	return result(0, `{"abi":1,"role":"authorizer","name":"testauth","version":"0.1.0"}`)
}

//go:wasmexport opstream_buffer
func buffer(size int32) int32 {
	if cap(in) < int(size)+1 {
		in = make([]byte, size+1)
	}
	in = in[:size]
	return int32(uintptr(unsafe.Pointer(&in[:1][0])))
}

//go:wasmexport authorizer_init
func initAuth(n int32) int64 {
	cfg := in[:n]
	if bytes.Contains(cfg, []byte("bad")) {
		return result(1, "config: unknown key \"bad\"")
	}
	deny = bytes.Contains(cfg, []byte(`"deny":true`))
	return result(0, "")
}

//go:wasmexport authorize
func authorize(n int32) int64 {
	req := in[:n]
	if !bytes.HasPrefix(req, []byte("{")) {
		return result(1, "malformed request")
	}
	switch {
	case deny:
		return result(0, `{"access":"none","reason":"denied by config"}`)
	case bytes.Contains(req, []byte(`"token":"w"`)):
		return result(0, `{"access":"write","tenant":"acme","subject":"ann","expiresAtUnixMillis":42}`)
	case bytes.Contains(req, []byte(`"token":"loop"`)):
		for i := 0; ; i++ {
			if i < 0 {
				break
			}
		}
	case bytes.Contains(req, []byte(`"token":"panic"`)):
		panic("asked to")
	case bytes.Contains(req, []byte(`"token":"garbage"`)):
		return result(0, `not json`)
	}
	return result(0, `{"access":"read","subject":"anon"}`)
}
