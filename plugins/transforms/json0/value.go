// Package json0 is the json0 OT type of ShareDB, a port of the npm package ot-json0 1.x: a
// document is any JSON value and an op is a list of components (oi/od, li/ld, lm, na, si/sd,
// t/o with the text0 subtype). Objects keep their keys in order so that outputs match
// JSON.stringify byte for byte; string offsets count UTF-16 code units like JavaScript.
package json0

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// ErrInvalid is wrapped by every error that means "the op (or snapshot) is invalid".
var ErrInvalid = errors.New("json0: invalid")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// A value is nil (null), bool, float64, string, *List or *Object.

// Object is a JSON object with ordered keys. Its fields (key and value) are kept in one slice,
// found by a linear scan while the object is small and through an index past smallObject keys:
// a document of many small records then holds no map per record (a map costs a WASM guest
// hundreds of bytes and the garbage collector a scan per record, which dominated an op's cost
// on a 1 MB document), and one array per record, not one for keys and one for values (what
// the guest's garbage collector marks at each cycle is the live documents' objects).
type Object struct {
	fields []field
	idx    map[string]int // key -> position, when len(fields) > smallObject
}

// field is one key of an Object and its value.
type field struct {
	k string
	v any
}

// smallObject is how many keys an Object holds before it indexes them.
const smallObject = 8

func newObject() *Object { return &Object{} }

// Len returns the number of keys.
func (o *Object) Len() int { return len(o.fields) }

// Key returns the i-th key (0 <= i < Len).
func (o *Object) Key(i int) string { return o.fields[i].k }

// find returns k's position, or -1.
func (o *Object) find(k string) int {
	if o.idx != nil {
		if i, ok := o.idx[k]; ok {
			return i
		}
		return -1
	}
	for i := range o.fields {
		if o.fields[i].k == k {
			return i
		}
	}
	return -1
}

// Get returns the value at k.
func (o *Object) Get(k string) (any, bool) {
	if i := o.find(k); i >= 0 {
		return o.fields[i].v, true
	}
	return nil, false
}

// Set sets k, appending it when new.
func (o *Object) Set(k string, v any) {
	if i := o.find(k); i >= 0 {
		o.fields[i].v = v
		return
	}
	o.insert(len(o.fields), k, v)
}

// insert puts the new key k with v at position at.
func (o *Object) insert(at int, k string, v any) {
	o.fields = slices.Insert(o.fields, at, field{k, v})
	o.reindex(at)
}

// reindex updates the index for the keys from position i on (building it when the object
// outgrows smallObject).
func (o *Object) reindex(i int) {
	if o.idx == nil {
		if len(o.fields) <= smallObject {
			return
		}
		o.idx, i = make(map[string]int, len(o.fields)), 0
	}
	for ; i < len(o.fields); i++ {
		o.idx[o.fields[i].k] = i
	}
}

// Delete removes k.
func (o *Object) Delete(k string) {
	i := o.find(k)
	if i < 0 {
		return
	}
	// A new array, as before: a caller may still hold the old one.
	o.fields = append(o.fields[:i:i], o.fields[i+1:]...)
	if o.idx != nil {
		delete(o.idx, k)
		o.reindex(i)
	}
}

// Clone deep-copies a value.
func Clone(v any) any {
	switch x := v.(type) {
	case *List:
		a := x.Values()
		for i, e := range a {
			a[i] = Clone(e)
		}
		return NewList(a)
	case *Object:
		o := &Object{fields: slices.Clone(x.fields)}
		for i := range o.fields {
			o.fields[i].v = Clone(o.fields[i].v)
		}
		if x.idx != nil {
			o.idx = maps.Clone(x.idx)
		}
		return o
	}
	return v
}

// ParseValue decodes one JSON value (JSON.parse semantics: a repeated key keeps its first
// position and its last value). Strings must be valid UTF-8 without unpaired surrogate escapes.
// It reads with the hand-written pluginsdk/jsonscan: encoding/json costs a WASM guest 20-40x
// more (docs/plugins.md).
func ParseValue(b []byte) (any, error) {
	s := jsonscan.New(b)
	v, err := parseValue(&s, 0, keyInterner{})
	if err == nil {
		err = s.End("value")
	}
	if err != nil {
		return nil, invalidf("bad JSON: %v", err)
	}
	return v, nil
}

const maxDepth = 1000

// keyInterner gives the objects of one document one string per distinct key: a document of
// many records holds each key once, not once per record (fewer objects for the guest's GC to
// mark at each cycle). nil interns nothing.
type keyInterner map[string]string

func (m keyInterner) intern(k string) string {
	if m == nil {
		return k
	}
	if x, ok := m[k]; ok {
		return x
	}
	m[k] = k
	return k
}

func parseValue(s *jsonscan.Scanner, depth int, keys keyInterner) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("too deep")
	}
	switch c := s.Peek(); {
	case c == '{':
		// A small object's fields are gathered on the stack, then copied to an array of their
		// exact size: two allocations, whatever its number of keys.
		var fb [smallObject]field
		fields := fb[:0]
		var o *Object
		err := s.Object("value", func(k string) error {
			k = keys.intern(k)
			v, err := parseValue(s, depth+1, keys)
			switch i := fieldIndex(fields, k); {
			case o != nil:
				o.Set(k, v)
			case i >= 0:
				fields[i].v = v // JSON.parse: the first position, the last value
			case len(fields) < smallObject:
				fields = append(fields, field{k, v})
			default:
				o = &Object{fields: slices.Clone(fields)}
				o.Set(k, v)
			}
			return err
		})
		if o == nil {
			o = &Object{fields: slices.Clone(fields)}
		}
		return o, err
	case c == '[':
		var a []any
		err := s.Array("value", func() error {
			v, err := parseValue(s, depth+1, keys)
			a = append(a, v)
			return err
		})
		return NewList(a), err
	case c == '"':
		return s.Str("value")
	case s.Literal("true"):
		return true, nil
	case s.Literal("false"):
		return false, nil
	case s.Literal("null"):
		return nil, nil
	}
	return parseNumber(s)
}

// fieldIndex returns the position of key k in fs, or -1.
func fieldIndex(fs []field, k string) int {
	for i := range fs {
		if fs[i].k == k {
			return i
		}
	}
	return -1
}

// parseNumber reads a number (anything else is refused by Value) as a float64.
func parseNumber(s *jsonscan.Scanner) (any, error) {
	f, err := parseFloat(s)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// parseFloat is parseNumber without boxing the result (an allocation).
func parseFloat(s *jsonscan.Scanner) (float64, error) {
	var buf [32]byte
	num, err := s.Value(buf[:0], "value")
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(num), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, err
	}
	if math.IsInf(f, 0) {
		return 0, errors.New("number out of range")
	}
	return f, nil
}

// AppendValue encodes v like JSON.stringify.
func AppendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		return appendNumber(b, x)
	case string:
		return appendString(b, x)
	case *List:
		b = append(b, '[')
		first := true
		for _, c := range x.chunks {
			for _, e := range c {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = AppendValue(b, e)
			}
		}
		return append(b, ']')
	case *Object:
		b = append(b, '{')
		if keys := objectKeys(x); keys != nil {
			for i, k := range keys {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, k)
				b = append(b, ':')
				v, _ := x.Get(k)
				b = AppendValue(b, v)
			}
		} else {
			for i := range x.fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, x.fields[i].k)
				b = append(b, ':')
				b = AppendValue(b, x.fields[i].v)
			}
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

func isArrayIndex(k string) bool { _, ok := arrayIndex(k); return ok }

// arrayIndex reports whether k is a canonical array index, which JavaScript orders first.
func arrayIndex(k string) (uint64, bool) {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return 0, false // what ParseUint refuses, without its error's allocation
		}
	}
	n, err := strconv.ParseUint(k, 10, 64)
	if err != nil || n >= 1<<32-1 {
		return 0, false
	}
	return n, true
}

// objectKeys returns o's keys in JavaScript's order: nil when that is o's own order (no key is
// an array index).
func objectKeys(o *Object) []string {
	var idx []string
	for i := range o.fields {
		if k := o.fields[i].k; isArrayIndex(k) {
			idx = append(idx, k)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	sort.Slice(idx, func(i, j int) bool { a, _ := arrayIndex(idx[i]); c, _ := arrayIndex(idx[j]); return a < c })
	out := idx
	for i := range o.fields {
		if k := o.fields[i].k; !isArrayIndex(k) {
			out = append(out, k)
		}
	}
	return out
}

func appendNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == 0 {
		return append(b, '0')
	}
	a := math.Abs(f)
	if a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	b = append(b, mant...)
	b = append(b, 'e', sign)
	return append(b, exp...)
}

const hexDigits = "0123456789abcdef"

// appendString encodes s like JSON.stringify: ", \ and control characters escaped, each byte of
// invalid UTF-8 as U+FFFD (as ranging over s gives it), everything else as is. Runs of bytes
// that need nothing are copied at once (FuzzAppendString checks it against the rune-by-rune
// encoder it replaced).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = utf8.AppendRune(b, utf8.RuneError)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func toUTF16(s string) []uint16   { return utf16.Encode([]rune(s)) }
func fromUTF16(u []uint16) string { return string(utf16.Decode(u)) }

// sliceUTF16 is JavaScript's s.slice(a, b) with 0 <= a, b (clamped).
func sliceUTF16(u []uint16, a, b int) []uint16 {
	a, b = min(a, len(u)), min(b, len(u))
	if b < a {
		return nil
	}
	return u[a:b]
}

// equal reports deep equality of two values.
func equal(a, b any) bool {
	switch x := a.(type) {
	case *List:
		y, ok := b.(*List)
		if !ok || x.Len() != y.Len() {
			return false
		}
		xa, ya := x.Values(), y.Values()
		for i := range xa {
			if !equal(xa[i], ya[i]) {
				return false
			}
		}
		return true
	case *Object:
		y, ok := b.(*Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i := range x.fields {
			k, v := x.fields[i].k, x.fields[i].v
			w, ok := y.Get(k)
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}
