//go:build wasip1

// Command forbidden imports env.forbidden, which the host must refuse.
package main

func main() {}

//go:wasmimport env forbidden
func forbidden() int32

//go:wasmexport opstream_abi_version
func abiVersion() int32 { return 1 + forbidden() }

//go:wasmexport opstream_info
func info() int64 { return 0 }

//go:wasmexport opstream_buffer
func buffer(size int32) int32 { return 0 }
