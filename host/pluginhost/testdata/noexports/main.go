//go:build wasip1

// Command noexports declares the engine role but exports none of the engine functions.
package main

import "unsafe"

func main() {}

var out []byte

//go:wasmexport opstream_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport opstream_info
func info() int64 {
	out = append([]byte{0}, `{"abi":1,"role":"engine","name":"noexports","version":"0.1.0","docType":"x"}`...)
	return int64(uintptr(unsafe.Pointer(&out[0])))<<32 | int64(len(out))
}

//go:wasmexport opstream_buffer
func buffer(size int32) int32 { return 0 }
