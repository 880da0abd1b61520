package jsonscan

import (
	"encoding/binary"
	"math/bits"
)

// Special8 flags, in the high bit of each byte, the bytes of w (8 bytes of input read
// little-endian) that end a plain run of a JSON string: '"', '\\' and control characters below
// 0x20. Only the lowest flagged byte is exact: a false positive can only come after a true one
// (a borrow), so bits.TrailingZeros64(Special8(w))/8 is the index of the first such byte.
func Special8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := w ^ (ones * '"')
	b := w ^ (ones * '\\')
	return ((q - ones) &^ q & highs) | ((b - ones) &^ b & highs) | ((w - ones*0x20) &^ w & highs)
}

// StringRun returns the length n of the longest prefix of b that holds no '"', '\\' or control
// character (below 0x20), so b[n] (when n < len(b)) is the byte that ends a string's plain run:
// its closing quote, an escape or an error. nonASCII reports whether b[:n] holds a byte from
// 0x80 up, which a strict reader must check as UTF-8 (those bytes are never one of the three
// kinds above, so a valid UTF-8 sequence never straddles b[n]).
//
// It looks at 32, then 8 bytes per step: in a WASM guest each loop iteration costs, and in a
// sandboxed runtime (wazero with deadlines) much more than the bytes it looks at.
func StringRun(b []byte) (n int, nonASCII bool) {
	const highs = 0x8080808080808080
	var acc uint64
	for n+32 <= len(b) {
		w0 := binary.LittleEndian.Uint64(b[n:])
		w1 := binary.LittleEndian.Uint64(b[n+8:])
		w2 := binary.LittleEndian.Uint64(b[n+16:])
		w3 := binary.LittleEndian.Uint64(b[n+24:])
		if Special8(w0)|Special8(w1)|Special8(w2)|Special8(w3) != 0 {
			break
		}
		acc |= w0 | w1 | w2 | w3
		n += 32
	}
	for n+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[n:])
		if m := Special8(w); m != 0 {
			k := bits.TrailingZeros64(m) >> 3
			acc |= w & (1<<(8*k) - 1)
			return n + k, acc&highs != 0
		}
		acc |= w
		n += 8
	}
	for n < len(b) {
		c := b[n]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		acc |= uint64(c)
		n++
	}
	return n, acc&highs != 0
}
