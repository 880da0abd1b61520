//go:build wasip1

// Command badabi exports ABI version 2, which the host must refuse.
package main

func main() {}

//go:wasmexport opstream_abi_version
func abiVersion() int32 { return 2 }

//go:wasmexport opstream_info
func info() int64 { return 0 }

//go:wasmexport opstream_buffer
func buffer(size int32) int32 { return 0 }
