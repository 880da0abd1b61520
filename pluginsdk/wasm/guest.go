//go:build wasip1

package wasm

import (
	"runtime"
	"unsafe"
)

// The guest side of the ABI keeps its buffers in package variables on purpose: a WASM instance
// is single-threaded and its exports are plain functions, so the state shared between the
// opstream_buffer call (host writes the input) and the next call (guest reads it), and between a
// call and the host reading its result, can only live at package level. Nothing else in the SDK
// keeps global state.
var (
	// inBuf is the reusable input buffer handed out by opstream_buffer. It only grows.
	inBuf []byte
	// outBuf holds the last result: it must stay referenced (so the GC keeps it) until the next
	// call into the instance, when it is reused.
	outBuf []byte
	// manifestJSON is the manifest registered by the module, encoded once.
	manifestJSON []byte
)

// minBuffer is the smallest input buffer allocated, so tiny calls never reallocate.
const minBuffer = 4096

// maxIdleOut is the capacity above which a result buffer is dropped once a small result fits in
// a fresh one, so one huge snapshot does not pin its memory for the instance's lifetime.
const maxIdleOut = 4 << 20

// yieldEvery is how many calls pass between yields to the Go scheduler (see Finish).
const yieldEvery = 32

// calls counts results, for yieldEvery.
var calls uint64

//go:wasmexport opstream_abi_version
func opstreamABIVersion() int32 { return ABIVersion }

//go:wasmexport opstream_info
func opstreamInfo() uint64 {
	if manifestJSON == nil {
		return Fail("module registered no manifest: call engine.Register or authorizer.Register from init")
	}
	return OK(manifestJSON)
}

//go:wasmexport opstream_buffer
func opstreamBuffer(size int32) int32 {
	if size < 0 {
		size = 0
	}
	if cap(inBuf) < int(size) || inBuf == nil {
		// Grow geometrically so a series of growing inputs reallocates O(log n) times.
		inBuf = make([]byte, max(int(size), minBuffer, 2*cap(inBuf)))
	}
	inBuf = inBuf[:size]
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(inBuf))))
}

// SetManifest records the module's manifest for opstream_info. The role SDKs (engine.Register,
// authorizer.Register) call it; a module calls one of those from an init function.
func SetManifest(m Manifest) {
	manifestJSON = AppendManifestJSON(nil, m)
}

// Input returns the n bytes the host wrote into the input buffer for the current call. The slice
// aliases the buffer and is only valid during the call: copy what must outlive it. ok is false
// when n is negative or larger than the buffer the host asked for.
func Input(n int32) (in []byte, ok bool) {
	if n < 0 || int(n) > len(inBuf) {
		return nil, false
	}
	return inBuf[:n:n], true
}

// Begin starts a result with the given status: it returns the reusable result buffer holding
// just the status byte. Append the payload to it and pass it to Finish.
func Begin(status byte) []byte {
	if cap(outBuf) > maxIdleOut {
		outBuf = nil
	}
	return append(outBuf[:0], status)
}

// Finish keeps buf alive as the current result and packs its address and length for the host
// (pointer in the high 32 bits, length in the low 32 bits). buf must come from Begin.
func Finish(buf []byte) uint64 {
	outBuf = buf
	// Yield now and then before returning to the host. In a reactor module goroutines run only
	// while an export runs, and the garbage collector's mark workers are goroutines: without a
	// yield a collection that an allocation started never finishes, and the heap grows until
	// the instance runs out of memory (seen: 1 GiB after ~20,000 text ops). A yield on every
	// call cost 15-35 µs (the scheduler polls the host), so it is every yieldEvery calls.
	if calls++; calls%yieldEvery == 0 {
		runtime.Gosched()
	}
	ptr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	return ptr<<32 | uint64(uint32(len(buf)))
}

// OK returns a status-0 result carrying payload (copied into the result buffer).
func OK(payload []byte) uint64 { return Finish(append(Begin(StatusOK), payload...)) }

// Reject returns a status-1 result (the input is invalid) carrying msg.
func Reject(msg string) uint64 { return Finish(append(Begin(StatusRejected), msg...)) }

// Fail returns a status-2 result (the guest failed cleanly) carrying msg.
func Fail(msg string) uint64 { return Finish(append(Begin(StatusError), msg...)) }
