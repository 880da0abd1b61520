package richtext

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// Kind is the type of a JSON value.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is a parsed JSON value kept the way JavaScript holds it: strings as UTF-16 code units
// (so lone surrogates survive), numbers as float64, objects as ordered members (insertion
// order; AppendJSON emits array-index keys first, as JavaScript orders properties).
type Value struct {
	Kind Kind
	B    bool
	Num  float64
	Str  []uint16
	Arr  []Value
	Obj  []Member
}

// Member is one member of an object.
type Member struct {
	Key string // UTF-8 (a key holding a lone surrogate is rejected by the parser)
	Val Value
}

// get returns the member named key.
func (v *Value) get(key string) (*Value, bool) {
	for i := range v.Obj {
		if v.Obj[i].Key == key {
			return &v.Obj[i].Val, true
		}
	}
	return nil, false
}

const maxDepth = 128

type parser struct {
	b   []byte
	i   int
	err bool
}

// parseJSON parses b as exactly one JSON value (JSON.parse semantics: duplicate keys keep the
// first position and the last value).
func parseJSON(b []byte) (Value, bool) {
	p := parser{b: b}
	p.ws()
	v := p.value(0)
	p.ws()
	if p.err || p.i != len(p.b) {
		return Value{}, false
	}
	return v, true
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	p.err = true
	return false
}

func (p *parser) value(depth int) Value {
	if p.err || p.i >= len(p.b) || depth > maxDepth {
		p.err = true
		return Value{}
	}
	switch c := p.b[p.i]; {
	case c == 'n':
		p.lit("null")
		return Value{}
	case c == 't':
		p.lit("true")
		return Value{Kind: Bool, B: true}
	case c == 'f':
		p.lit("false")
		return Value{Kind: Bool}
	case c == '"':
		return Value{Kind: String, Str: p.str()}
	case c == '[':
		p.i++
		v := Value{Kind: Array, Arr: make([]Value, 0, 4)}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return v
		}
		for !p.err {
			p.ws()
			v.Arr = append(v.Arr, p.value(depth+1))
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				return v
			}
			p.err = true
		}
		return v
	case c == '{':
		p.i++
		v := Value{Kind: Object, Obj: make([]Member, 0, 2)}
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return v
		}
		for !p.err {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				p.err = true
				break
			}
			key, ok := p.plainKey()
			if !ok {
				k := p.str()
				if !validKey(k) {
					p.err = true
					break
				}
				key = string(utf16.Decode(k))
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				p.err = true
				break
			}
			p.i++
			p.ws()
			val := p.value(depth + 1)
			if old, ok := v.get(key); ok {
				*old = val
			} else {
				v.Obj = append(v.Obj, Member{key, val})
			}
			p.ws()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				return v
			}
			p.err = true
		}
		return v
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	}
	p.err = true
	return Value{}
}

// validKey reports whether k has no lone surrogate.
func validKey(k []uint16) bool {
	for i := 0; i < len(k); i++ {
		u := rune(k[i])
		if u >= 0xd800 && u < 0xdc00 && i+1 < len(k) && k[i+1] >= 0xdc00 && k[i+1] < 0xe000 {
			i++
			continue
		}
		if utf16.IsSurrogate(u) {
			return false
		}
	}
	return true
}

func (p *parser) num() Value {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.b) && p.b[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		p.err = true
		return Value{}
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			p.err = true
			return Value{}
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			p.err = true
			return Value{}
		}
	}
	f, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil && !math.IsInf(f, 0) {
		p.err = true
		return Value{}
	}
	if math.IsInf(f, 0) { // JSON.parse gives Infinity, which JSON.stringify writes as null
		p.err = true
		return Value{}
	}
	return Value{Kind: Number, Num: f}
}

func hexval(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

// knownKeys are the keys of Quill deltas, returned without allocating.
var knownKeys = [...]string{"ops", "insert", "retain", "delete", "attributes", "bold", "italic", "underline", "strike", "link", "color", "background", "header", "list", "align", "code", "image"}

// plainRun returns the contents of the string at p.i (at the opening quote) when they are
// ASCII without escapes, the usual case, and moves past it; ok is false (p.i unchanged)
// otherwise.
func (p *parser) plainRun() (raw []byte, ok bool) {
	rest := p.b[p.i+1:]
	n, nonASCII := jsonscan.StringRun(rest)
	if nonASCII || n >= len(rest) || rest[n] != '"' {
		return nil, false
	}
	p.i += n + 2
	return rest[:n], true
}

// plainKey reads an object key at p.i with plainRun, interning Quill's keys.
func (p *parser) plainKey() (string, bool) {
	raw, ok := p.plainRun()
	if !ok {
		return "", false
	}
	for _, k := range knownKeys {
		if string(raw) == k {
			return k, true
		}
	}
	return string(raw), true
}

// str parses a string at p.i (at the opening quote) into UTF-16 code units.
func (p *parser) str() []uint16 {
	if raw, ok := p.plainRun(); ok {
		out := make([]uint16, len(raw)) // one allocation of the right size
		for k, c := range raw {
			out[k] = uint16(c)
		}
		return out
	}
	p.i++
	out := []uint16{}
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return out
		case c == '\\':
			if p.i+1 >= len(p.b) {
				p.err = true
				return out
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, uint16(e))
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if p.i+4 > len(p.b) {
					p.err = true
					return out
				}
				var r rune
				for _, h := range p.b[p.i : p.i+4] {
					x := hexval(h)
					if x < 0 {
						p.err = true
						return out
					}
					r = r<<4 | x
				}
				p.i += 4
				out = append(out, uint16(r))
			default:
				p.err = true
				return out
			}
		case c < 0x20:
			p.err = true
			return out
		case c < utf8.RuneSelf:
			out = append(out, uint16(c))
			p.i++
		default:
			r, n := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && n <= 1 {
				p.err = true
				return out
			}
			p.i += n
			if r >= 0x10000 {
				a, b := utf16.EncodeRune(r)
				out = append(out, uint16(a), uint16(b))
			} else {
				out = append(out, uint16(r))
			}
		}
	}
	p.err = true
	return out
}

// AppendJSON appends v as JavaScript's JSON.stringify writes it.
func (v *Value) AppendJSON(b []byte) []byte {
	switch v.Kind {
	case Null:
		return append(b, "null"...)
	case Bool:
		if v.B {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case Number:
		return appendJSNumber(b, v.Num)
	case String:
		return appendJSString(b, v.Str)
	case Array:
		b = append(b, '[')
		for i := range v.Arr {
			if i > 0 {
				b = append(b, ',')
			}
			b = v.Arr[i].AppendJSON(b)
		}
		return append(b, ']')
	}
	b = append(b, '{')
	first := true
	for _, i := range jsOrder(v.Obj) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSString(b, utf16.Encode([]rune(v.Obj[i].Key)))
		b = append(b, ':')
		b = v.Obj[i].Val.AppendJSON(b)
	}
	return append(b, '}')
}

// arrayIndex reports whether k is a canonical array index (JavaScript orders such property
// keys first, ascending) and its value.
func arrayIndex(k string) (uint64, bool) {
	if k == "" || len(k) > 10 || (k[0] == '0' && len(k) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < '0' || c > '9' {
			return 0, false // (strconv would allocate an error here, on every key)
		}
		n = n*10 + uint64(c-'0')
	}
	if n >= 1<<32-1 {
		return 0, false
	}
	return n, true
}

// jsOrder returns the indexes of members in JavaScript property order.
func jsOrder(m []Member) []int {
	idx := make([]int, 0, len(m))
	var nums []int
	for i := range m {
		if _, ok := arrayIndex(m[i].Key); ok {
			nums = append(nums, i)
		}
	}
	if len(nums) > 1 {
		// insertion sort by numeric value: few keys
		for i := 1; i < len(nums); i++ {
			for j := i; j > 0; j-- {
				a, _ := arrayIndex(m[nums[j-1]].Key)
				c, _ := arrayIndex(m[nums[j]].Key)
				if a <= c {
					break
				}
				nums[j-1], nums[j] = nums[j], nums[j-1]
			}
		}
	}
	idx = append(idx, nums...)
	for i := range m {
		if _, ok := arrayIndex(m[i].Key); !ok {
			idx = append(idx, i)
		}
	}
	return idx
}

const hexdig = "0123456789abcdef"

// appendJSString writes s as JSON.stringify does (well-formed JSON.stringify: lone surrogates
// escaped).
func appendJSString(b []byte, s []uint16) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		u := s[i]
		switch {
		case u == '"':
			b = append(b, '\\', '"')
		case u == '\\':
			b = append(b, '\\', '\\')
		case u == '\b':
			b = append(b, '\\', 'b')
		case u == '\f':
			b = append(b, '\\', 'f')
		case u == '\n':
			b = append(b, '\\', 'n')
		case u == '\r':
			b = append(b, '\\', 'r')
		case u == '\t':
			b = append(b, '\\', 't')
		case u < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexdig[u>>4], hexdig[u&15])
		case u < utf8.RuneSelf:
			b = append(b, byte(u))
		case u >= 0xd800 && u < 0xdc00 && i+1 < len(s) && s[i+1] >= 0xdc00 && s[i+1] < 0xe000:
			b = utf8.AppendRune(b, utf16.DecodeRune(rune(u), rune(s[i+1])))
			i++
		case u >= 0xd800 && u < 0xe000:
			b = append(b, '\\', 'u', hexdig[u>>12], hexdig[u>>8&15], hexdig[u>>4&15], hexdig[u&15])
		default:
			b = utf8.AppendRune(b, rune(u))
		}
	}
	return append(b, '"')
}

// appendJSNumber writes f as JavaScript's Number#toString does.
func appendJSNumber(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0')
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// Shortest round-tripping digits and the decimal exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exps, _ := cut(e, 'e')
	exp, _ := strconv.Atoi(exps)
	digits := make([]byte, 0, len(mant))
	for i := 0; i < len(mant); i++ {
		if mant[i] != '.' {
			digits = append(digits, mant[i])
		}
	}
	k := len(digits)
	n := exp + 1 // the decimal point sits after n digits
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		for i := k; i < n; i++ {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		b = append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, '0', '.')
		for i := 0; i < -n; i++ {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// equal is lodash.isEqual on JSON values (object member order ignored).
func equal(a, b *Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case Null:
		return true
	case Bool:
		return a.B == b.B
	case Number:
		return a.Num == b.Num
	case String:
		return slicesEqual(a.Str, b.Str)
	case Array:
		if len(a.Arr) != len(b.Arr) {
			return false
		}
		for i := range a.Arr {
			if !equal(&a.Arr[i], &b.Arr[i]) {
				return false
			}
		}
		return true
	}
	if len(a.Obj) != len(b.Obj) {
		return false
	}
	for i := range a.Obj {
		w, ok := b.get(a.Obj[i].Key)
		if !ok || !equal(&a.Obj[i].Val, w) {
			return false
		}
	}
	return true
}

func slicesEqual(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
