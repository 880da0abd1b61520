package json0

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// TextComp is a text0 component: an insert {p, i} or a delete {p, d}.
type TextComp struct {
	P      int
	S      []uint16 // inserted or deleted text, UTF-16
	Ins    bool
	PFirst bool // "p" is encoded before "i"/"d"
}

// Component is one json0 op component. Its keys keep the order of its fields for encoding.
// The t field, when there is one, is "text0": ParseOp refuses any other subtype.
type Component struct {
	keys           keyList
	P              []any // string or int
	Oi, Od, Li, Ld any
	Lm             int
	Na             float64
	Si, Sd         []uint16
	O              []TextComp
}

// Op is a json0 op.
type Op []Component

// keyList is a component's keys in order, four bits each (an index in keyNames), the first
// in the low bits: a value, so components copy it for nothing (it was a slice, allocated for
// each component and each change of its keys; an op's components are most of what an op
// costs the guest's allocator and GC).
type keyList uint32

var keyNames = [...]string{"", "p", "oi", "od", "li", "ld", "lm", "na", "si", "sd", "t", "o"}

// keyCode returns k's index in keyNames, 0 if none.
func keyCode(k string) keyList {
	switch k {
	case "p":
		return 1
	case "oi":
		return 2
	case "od":
		return 3
	case "li":
		return 4
	case "ld":
		return 5
	case "lm":
		return 6
	case "na":
		return 7
	case "si":
		return 8
	case "sd":
		return 9
	case "t":
		return 10
	case "o":
		return 11
	}
	return 0
}

// keysOf returns the key list of ks, which are names in keyNames.
func keysOf(ks ...string) keyList {
	var l keyList
	for i, k := range ks {
		l |= keyCode(k) << (4 * i)
	}
	return l
}

// Keys returns the component's keys in order.
func (c *Component) Keys() []string {
	var out []string
	for l := c.keys; l != 0; l >>= 4 {
		out = append(out, keyNames[l&15])
	}
	return out
}

func (c *Component) has(k string) bool {
	code := keyCode(k)
	for l := c.keys; l != 0; l >>= 4 {
		if l&15 == code {
			return true
		}
	}
	return false
}

// set adds k to the keys.
func (c *Component) set(k string) {
	if c.has(k) {
		return
	}
	n := 0
	for l := c.keys; l != 0; l >>= 4 {
		n++
	}
	if n == 8 {
		panic("json0: too many keys in a component")
	}
	c.keys |= keyCode(k) << (4 * n)
}

func (c *Component) del(k string) {
	code := keyCode(k)
	var out keyList
	n := 0
	for l := c.keys; l != 0; l >>= 4 {
		if l&15 != code {
			out |= (l & 15) << (4 * n)
			n++
		}
	}
	c.keys = out
}

// copy returns c with its own path and text0 op.
func (c Component) copy() Component {
	c.P = slices.Clone(c.P)
	c.O = slices.Clone(c.O)
	return c
}

// Clone returns a copy of op whose components' paths are its own (values are shared: nothing
// modifies them in place).
func (op Op) Clone() Op {
	out := make(Op, len(op))
	for i, c := range op {
		out[i] = c.copy()
	}
	return out
}

func (c *Component) textish() bool { return c.has("si") || c.has("sd") }

var allowed = [][]string{{"oi"}, {"od"}, {"od", "oi"}, {"li"}, {"ld"}, {"ld", "li"}, {"lm"}, {"na"}, {"si"}, {"sd"}, {"o", "t"}}

// ParseOp decodes and validates an op.
func ParseOp(b []byte) (Op, error) {
	if op, ok := parseOpFast(b); ok {
		return op, nil
	}
	return parseOpSlow(b)
}

// parseOpSlow is ParseOp's general path: the op as a value, then each component.
func parseOpSlow(b []byte) (Op, error) {
	v, err := ParseValue(b)
	if err != nil {
		return nil, err
	}
	l, ok := v.(*List)
	if !ok {
		return nil, invalidf("an op must be an array of components")
	}
	op := make(Op, 0, l.Len())
	for i, e := range l.Values() {
		c, err := parseComponent(e)
		if err != nil {
			return nil, invalidf("component %d: %v", i, err)
		}
		op = append(op, c)
	}
	return op, nil
}

// errSlow makes parseOpFast give up: the op is left to the general path.
var errSlow = errors.New("json0: not on the fast path")

// parseOpFast decodes an op's components straight from the scanner, without building each
// component as an *Object first (allocations are what a WASM guest pays for most). It reports
// ok only for an op it read completely and whose components are all valid, with the result
// ParseOp's general path gives; anything else (a repeated key, a text0 component, an invalid
// op, ...) is left to the general path, so errors and edge cases stay exactly its own.
func parseOpFast(b []byte) (Op, bool) {
	s := jsonscan.New(b)
	if s.Peek() != '[' {
		return nil, false
	}
	op := Op{}
	err := s.Array("value", func() error {
		if s.Peek() != '{' {
			return errSlow
		}
		// The fields are gathered on the stack, then given to component at their size.
		var fieldBuf [4]field
		var pathBuf [8]any
		fields, path, pathRead := fieldBuf[:0], pathBuf[:0], false
		err := s.Object("value", func(k string) error {
			if fieldIndex(fields, k) >= 0 || len(fields) == len(fieldBuf) {
				return errSlow
			}
			var v any
			var err error
			switch k {
			case "p":
				if s.Peek() != '[' {
					return errSlow
				}
				// Straight into the component's path, as component builds it.
				err = s.Array("value", func() error {
					switch c := s.Peek(); {
					case c == '"':
						str, err := s.Str("value")
						path = append(path, str)
						return err
					case c == '-' || '0' <= c && c <= '9':
						x, err := parseFloat(&s)
						n, ok := nonNegFloat(x)
						if err == nil && !ok {
							err = errSlow
						}
						path = append(path, n)
						return err
					}
					return errSlow
				})
				pathRead = true
			case "oi", "od", "li", "ld":
				v, err = parseValue(&s, 2, nil)
			case "lm", "na":
				if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
					return errSlow
				}
				v, err = parseNumber(&s)
			case "si", "sd":
				if s.Peek() != '"' {
					return errSlow
				}
				v, err = s.Str("value")
			default:
				return errSlow
			}
			fields = append(fields, field{k, v})
			return err
		})
		if err != nil {
			return err
		}
		var p []any
		if len(path) > 0 {
			p = append(make([]any, 0, len(path)), path...) // as component makes it
		}
		f := compFields(fields)
		c, err := f.component(p, pathRead)
		op = append(op, c)
		return err
	})
	if err != nil || s.End("value") != nil {
		return nil, false
	}
	return slices.Clip(op), true
}

func nonNegInt(v any) (int, bool) {
	f, ok := v.(float64)
	if !ok {
		return 0, false
	}
	return nonNegFloat(f)
}

func nonNegFloat(f float64) (int, bool) {
	if f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, false
	}
	return int(f), true
}

// compFields is a component object's fields, in order, each key once.
type compFields []field

func (f compFields) get(k string) any {
	if i := fieldIndex(f, k); i >= 0 {
		return f[i].v
	}
	return nil
}

func parseComponent(v any) (Component, error) {
	o, ok := v.(*Object)
	if !ok {
		return Component{}, invalidf("not an object")
	}
	return compFields(o.fields).component(nil, false)
}

// component builds and checks the component. When pathRead, path is its decoded path (strings
// and ints, which it keeps) and the value at "p" is unused.
func (f compFields) component(path []any, pathRead bool) (Component, error) {
	var c Component
	if pathRead {
		c.P = path
	} else {
		pl, ok := f.get("p").(*List)
		if !ok {
			return c, invalidf("missing path")
		}
		if pl.Len() > 0 {
			c.P = make([]any, 0, pl.Len())
		}
		for _, e := range pl.Values() {
			switch x := e.(type) {
			case string:
				c.P = append(c.P, x)
			default:
				n, ok := nonNegInt(e)
				if !ok {
					return c, invalidf("path elements must be strings or non-negative integers")
				}
				c.P = append(c.P, n)
			}
		}
	}
	// The instructions (keys other than p), sorted, must be one of allowed.
	var sorted [2]string
	n := 0
	for i := range f {
		if k := f[i].k; k != "p" {
			if n < len(sorted) {
				sorted[n] = k
			}
			n++
		}
	}
	if n == 2 && sorted[1] < sorted[0] {
		sorted[0], sorted[1] = sorted[1], sorted[0]
	}
	if n == 0 || n > 2 || !slices.ContainsFunc(allowed, func(a []string) bool { return slices.Equal(a, sorted[:n]) }) {
		var ins []string
		for i := range f {
			if k := f[i].k; k != "p" {
				ins = append(ins, k)
			}
		}
		return c, invalidf("invalid or missing instruction %v", ins)
	}
	for i := range f {
		c.keys |= keyCode(f[i].k) << (4 * i) // at most 3 keys here, all in keyNames
	}
	last := any(nil)
	if len(c.P) > 0 {
		last = c.P[len(c.P)-1]
	}
	_, lastNum := last.(int)
	_, lastStr := last.(string)
	switch sorted[0] {
	case "oi", "od":
		c.Oi, c.Od = f.get("oi"), f.get("od")
		if len(c.P) > 0 && !lastStr {
			return c, invalidf("object key must be a string")
		}
	case "li", "ld", "lm":
		c.Li, c.Ld = f.get("li"), f.get("ld")
		if !lastNum {
			return c, invalidf("list index must be a non-negative integer")
		}
		if sorted[0] == "lm" {
			n, ok := nonNegInt(f.get("lm"))
			if !ok {
				return c, invalidf("lm must be a non-negative integer")
			}
			c.Lm = n
		}
	case "na":
		f, ok := f.get("na").(float64)
		if !ok {
			return c, invalidf("na must be a number")
		}
		c.Na = f
	case "si", "sd":
		if !lastNum {
			return c, invalidf("string offset must be a non-negative integer")
		}
		s, ok := f.get(sorted[0]).(string)
		if !ok {
			return c, invalidf("%s must be a string", sorted[0])
		}
		if sorted[0] == "si" {
			c.Si = toUTF16(s)
		} else {
			c.Sd = toUTF16(s)
		}
	case "o":
		t, _ := f.get("t").(string)
		if t != "text0" {
			return c, invalidf("unknown subtype %s", AppendValue(nil, f.get("t")))
		}
		ol, ok := f.get("o").(*List)
		if !ok {
			return c, invalidf("text0 op must be an array")
		}
		for _, e := range ol.Values() {
			tc, err := parseTextComp(e)
			if err != nil {
				return c, err
			}
			c.O = append(c.O, tc)
		}
	}
	return c, nil
}

func parseTextComp(v any) (TextComp, error) {
	var t TextComp
	o, ok := v.(*Object)
	if !ok || o.Len() != 2 {
		return t, invalidf("text0 component must be {p, i} or {p, d}")
	}
	p, _ := o.Get("p")
	n, ok := nonNegInt(p)
	if !ok {
		return t, invalidf("text0 component position must be a non-negative integer")
	}
	t.P = n
	t.PFirst = o.Key(0) == "p"
	i, _ := o.Get("i")
	d, _ := o.Get("d")
	if s, ok := i.(string); ok {
		t.S, t.Ins = toUTF16(s), true
	} else if s, ok := d.(string); ok {
		t.S = toUTF16(s)
	} else {
		return t, invalidf("text0 component needs an i or d string")
	}
	return t, nil
}

// AppendJSON encodes op like JSON.stringify.
func (op Op) AppendJSON(b []byte) []byte {
	b = append(b, '[')
	for i, c := range op {
		if i > 0 {
			b = append(b, ',')
		}
		b = c.appendJSON(b)
	}
	return append(b, ']')
}

func (op Op) String() string { return string(op.AppendJSON(nil)) }

func (c *Component) appendJSON(b []byte) []byte {
	b = append(b, '{')
	for l := c.keys; l != 0; l >>= 4 {
		if l != c.keys {
			b = append(b, ',')
		}
		k := keyNames[l&15]
		b = appendString(b, k)
		b = append(b, ':')
		switch k {
		case "p":
			b = appendPath(b, c.P)
		case "oi":
			b = AppendValue(b, c.Oi)
		case "od":
			b = AppendValue(b, c.Od)
		case "li":
			b = AppendValue(b, c.Li)
		case "ld":
			b = AppendValue(b, c.Ld)
		case "lm":
			b = strconv.AppendInt(b, int64(c.Lm), 10)
		case "na":
			b = appendNumber(b, c.Na)
		case "si":
			b = appendUTF16(b, c.Si)
		case "sd":
			b = appendUTF16(b, c.Sd)
		case "t":
			b = append(b, `"text0"`...)
		case "o":
			b = appendTextOp(b, c.O)
		}
	}
	return append(b, '}')
}

func appendPath(b []byte, p []any) []byte {
	b = append(b, '[')
	for i, e := range p {
		if i > 0 {
			b = append(b, ',')
		}
		switch x := e.(type) {
		case string:
			b = appendString(b, x)
		case int:
			b = strconv.AppendInt(b, int64(x), 10)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, ']')
}

func appendTextOp(b []byte, o []TextComp) []byte {
	b = append(b, '[')
	for i, t := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k := `"d":`
		if t.Ins {
			k = `"i":`
		}
		b = append(b, '{')
		if t.PFirst {
			b = append(b, `"p":`...)
			b = strconv.AppendInt(b, int64(t.P), 10)
			b = append(b, ',')
			b = append(b, k...)
			b = appendUTF16(b, t.S)
		} else {
			b = append(b, k...)
			b = appendUTF16(b, t.S)
			b = append(b, `,"p":`...)
			b = strconv.AppendInt(b, int64(t.P), 10)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendUTF16 encodes UTF-16 text like JSON.stringify (lone surrogates as \udxxx).
func appendUTF16(b []byte, u []uint16) []byte {
	b = append(b, '"')
	for i := 0; i < len(u); i++ {
		r := rune(u[i])
		if utf16.IsSurrogate(r) {
			if r < 0xdc00 && i+1 < len(u) && u[i+1] >= 0xdc00 && u[i+1] < 0xe000 {
				b = append(b, string(utf16.DecodeRune(r, rune(u[i+1])))...)
				i++
				continue
			}
			b = append(b, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
			continue
		}
		s := appendString(nil, string(r))
		b = append(b, s[1:len(s)-1]...)
	}
	return append(b, '"')
}
