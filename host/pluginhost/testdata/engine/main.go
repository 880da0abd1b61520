//go:build wasip1

// Command engine is a test engine for package pluginhost, written against the raw ABI
// (no SDK). A document is an integer; an op is a decimal integer added to it.
// transform(op, c1..ck, side) = op + sum(ci) + 1000*side, so tests can check the frames and
// the side crossed the boundary. Some ops misbehave on purpose: "loop" spins forever,
// "bomb" allocates until memory runs out, "panic" panics, "big:N" returns N bytes,
// "print" writes a line to stdout, "sandbox" reports what the guest can see, "reject" is status 1, "fail" is status 2.
package main

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

func main() {}

var (
	in   []byte
	out  []byte
	docs = map[uint32]int64{}
	next uint32
	sink [][]byte
)

func result(status byte, payload []byte) int64 {
	out = append(out[:0], status)
	out = append(out, payload...)
	return int64(uintptr(unsafe.Pointer(&out[0])))<<32 | int64(len(out))
}

func okStr(s string) int64 { return result(0, []byte(s)) }

//go:wasmexport opstream_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport opstream_info
func info() int64 {
	return okStr(`{"abi":1,"role":"engine","name":"counter","version":"0.1.0","docType":"counter","capabilities":["compose"]}`)
}

//go:wasmexport opstream_buffer
func buffer(size int32) int32 {
	if cap(in) < int(size) {
		in = make([]byte, size)
	}
	in = in[:size]
	if size == 0 {
		in = in[:cap(in)]
		if len(in) == 0 {
			in = make([]byte, 1)
		}
	}
	return int32(uintptr(unsafe.Pointer(&in[0])))
}

func frames(n int32) [][]byte {
	b := in[:n]
	var parts [][]byte
	for len(b) >= 4 {
		l := binary.LittleEndian.Uint32(b)
		b = b[4:]
		parts = append(parts, b[:l])
		b = b[l:]
	}
	return parts
}

// hostile runs the misbehaving ops; ok=false means a result was produced.
func hostile(op string) (int64, bool) {
	switch {
	case op == "loop":
		for i := 0; ; i++ {
			if i < 0 {
				break
			}
		}
	case op == "bomb":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case op == "panic":
		panic("test engine asked to panic")
	case strings.HasPrefix(op, "big:"):
		n, _ := strconv.Atoi(op[4:])
		return result(0, make([]byte, n)), false
	case op == "print":
		os.Stdout.Write([]byte("hello from the guest\n"))
		return okStr("0"), false
	case op == "sandbox":
		// Reports what the sandbox lets the guest see, as a status-2 message.
		_, ferr := os.ReadFile("/etc/hostname")
		_, derr := os.ReadDir("/")
		msg := "fs=" + strconv.FormatBool(ferr == nil || derr == nil) +
			" env=" + strconv.Itoa(len(os.Environ())) +
			" args=" + strconv.Itoa(len(os.Args)) +
			" year=" + strconv.Itoa(time.Now().Year())
		return result(2, []byte(msg)), false
	case op == "reject":
		return result(1, []byte("rejected on purpose")), false
	case op == "fail":
		return result(2, []byte("failed on purpose")), false
	}
	return 0, true
}

func parse(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

func transform(parts [][]byte, side int32) (int64, int64, bool) {
	if r, ok := hostile(string(parts[0])); !ok {
		return r, 0, false
	}
	v, ok := parse(parts[0])
	if !ok {
		return result(1, []byte("invalid op "+strconv.Quote(string(parts[0])))), 0, false
	}
	for _, c := range parts[1:] {
		n, ok := parse(c)
		if !ok {
			return result(1, []byte("invalid concurrent op")), 0, false
		}
		v += n
	}
	if len(parts) > 1 {
		v += 1000 * int64(side)
	}
	return 0, v, true
}

//go:wasmexport engine_empty
func empty() int64 { return okStr("0") }

//go:wasmexport engine_open
func open(n int32) int64 {
	v := int64(0)
	if n > 0 {
		var ok bool
		if v, ok = parse(in[:n]); !ok {
			return result(1, []byte("invalid snapshot"))
		}
	}
	next++
	docs[next] = v
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], next)
	return result(0, h[:])
}

//go:wasmexport engine_close
func closeDoc(h int32) { delete(docs, uint32(h)) }

//go:wasmexport engine_snapshot
func snapshot(h int32) int64 {
	v, ok := docs[uint32(h)]
	if !ok {
		return result(2, []byte("no such document"))
	}
	return okStr(strconv.FormatInt(v, 10))
}

//go:wasmexport engine_apply
func apply(h, side, n int32) int64 {
	cur, ok := docs[uint32(h)]
	if !ok {
		return result(2, []byte("no such document"))
	}
	r, v, ok := transform(frames(n), side)
	if !ok {
		return r
	}
	docs[uint32(h)] = cur + v
	return okStr(strconv.FormatInt(v, 10))
}

//go:wasmexport engine_transform
func transformExport(side, n int32) int64 {
	r, v, ok := transform(frames(n), side)
	if !ok {
		return r
	}
	return okStr(strconv.FormatInt(v, 10))
}

//go:wasmexport engine_validate
func validate(n int32) int64 {
	if r, ok := hostile(string(in[:n])); !ok {
		return r
	}
	if _, ok := parse(in[:n]); !ok {
		return result(1, []byte("invalid op"))
	}
	return result(0, nil)
}

//go:wasmexport engine_compose
func compose(n int32) int64 {
	p := frames(n)
	if len(p) != 2 {
		return result(1, []byte("compose needs two ops"))
	}
	a, ok1 := parse(p[0])
	b, ok2 := parse(p[1])
	if !ok1 || !ok2 {
		return result(1, []byte("invalid op"))
	}
	return okStr(strconv.FormatInt(a+b, 10))
}
