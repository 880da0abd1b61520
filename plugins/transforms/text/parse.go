package text

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxLength is the largest skip or delete length accepted: JavaScript's largest safe integer,
// so every accepted length round-trips through a JavaScript client.
const maxLength = 1<<53 - 1

// ParseOp decodes a JSON op and checks it (see Check). Strings are copied: the op does not
// alias b. Whitespace is allowed where JSON allows it; anything else that is not exactly the op
// shape is rejected with an error wrapping ErrInvalid.
func ParseOp(b []byte) (Op, error) {
	return ParseOpInto(nil, b)
}

// ParseOpInto is ParseOp decoding into dst's memory: the op is dst[:0] grown with b's
// components, so a caller that reuses the result as the next dst parses small ops without
// allocating (strings of more than one byte are still copied). On error it returns nil.
func ParseOpInto(dst Op, b []byte) (Op, error) {
	if dst == nil {
		dst = make(Op, 0, 4)
	}
	p := parser{b: b}
	op, err := p.op(dst[:0])
	if err != nil {
		return nil, err
	}
	if err := Check(op); err != nil {
		return nil, err
	}
	return op, nil
}

// ParseSnapshot decodes a snapshot: a JSON string.
func ParseSnapshot(b []byte) (string, error) {
	p := parser{b: b}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", p.errf("snapshot must be a JSON string")
	}
	s, _, err := p.str()
	if err != nil {
		return "", err
	}
	p.ws()
	if p.i != len(p.b) {
		return "", p.errf("unexpected data after the snapshot")
	}
	return s, nil
}

// parser is a strict reader for the op shape. It never recurses.
type parser struct {
	b []byte
	i int
}

func (p *parser) errf(format string, args ...any) error {
	return invalidf("at byte %d: %s", p.i, fmt.Sprintf(format, args...))
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

// op reads an op, appending its components to op.
func (p *parser) op(op Op) (Op, error) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return nil, p.errf("op must be an array of components")
	}
	p.i++
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
	} else {
		for {
			c, err := p.component(len(op))
			if err != nil {
				return nil, err
			}
			op = append(op, c)
			p.ws()
			if p.i >= len(p.b) {
				return nil, p.errf("unterminated op")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == ']' {
				p.i++
				break
			}
			return nil, p.errf("expected ',' or ']' after component %d", len(op)-1)
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.errf("unexpected data after the op")
	}
	return op, nil
}

func (p *parser) component(idx int) (Component, error) {
	p.ws()
	if p.i >= len(p.b) {
		return Component{}, p.errf("unterminated op")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		s, n, err := p.str()
		if err != nil {
			return Component{}, err
		}
		return Component{Kind: Insert, N: n, S: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.length("skip")
		if err != nil {
			return Component{}, err
		}
		return Component{Kind: Skip, N: n}, nil
	case c == '{':
		return p.del()
	default:
		return Component{}, p.errf("component %d: must be a number, a string or {\"d\": ...}", idx)
	}
}

// del reads {"d": N} or {"d": "str"}.
func (p *parser) del() (Component, error) {
	p.i++ // '{'
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return Component{}, p.errf(`delete must be {"d": N} or {"d": "text"}`)
	}
	key, _, err := p.str()
	if err != nil {
		return Component{}, err
	}
	if key != "d" {
		return Component{}, p.errf("unknown key %q in a delete component", key)
	}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != ':' {
		return Component{}, p.errf("expected ':'")
	}
	p.i++
	p.ws()
	var c Component
	switch {
	case p.i >= len(p.b):
		return Component{}, p.errf("unterminated delete")
	case p.b[p.i] == '"':
		s, n, err := p.str()
		if err != nil {
			return Component{}, err
		}
		c = Component{Kind: Delete, N: n, S: s}
	case p.b[p.i] == '-' || (p.b[p.i] >= '0' && p.b[p.i] <= '9'):
		n, err := p.length("delete")
		if err != nil {
			return Component{}, err
		}
		c = Component{Kind: Delete, N: n}
	default:
		return Component{}, p.errf("delete must be number or string")
	}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '}' {
		if p.i < len(p.b) && p.b[p.i] == ',' {
			return Component{}, p.errf(`a delete component has only the key "d"`)
		}
		return Component{}, p.errf("expected '}'")
	}
	p.i++
	return c, nil
}

// length reads a JSON number that must be an integer in 1..maxLength (a zero or negative one is
// reported by Check, with ot-text-unicode's message). Fractions and exponents are accepted when
// the value is integral, as JSON.parse would read it.
func (p *parser) length(what string) (int, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || (p.b[digits] == '0' && p.i-digits > 1) {
		p.i = start
		return 0, p.errf("malformed number")
	}
	simple := true
	if p.i < len(p.b) && p.b[p.i] == '.' {
		simple = false
		p.i++
		d := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == d {
			return 0, p.errf("malformed number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		simple = false
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		d := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == d {
			return 0, p.errf("malformed number")
		}
	}
	text := p.b[start:p.i]
	if simple && len(text) <= 17 {
		n := 0
		neg := text[0] == '-'
		if neg {
			text = text[1:]
		}
		for _, d := range text {
			n = n*10 + int(d-'0')
		}
		if n > maxLength {
			return 0, p.errf("%s length %d is larger than 2^53-1", what, n)
		}
		if neg {
			n = -n
		}
		if n <= 0 {
			// Let Check report it with the reference's wording.
			if n == 0 {
				return 0, nil
			}
			return 0, p.errf("%s length must be > 0", what)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > maxLength {
		return 0, p.errf("%s length %s must be an integer of at most 2^53-1", what, text)
	}
	if f <= 0 {
		if f == 0 {
			return 0, nil
		}
		return 0, p.errf("%s length must be > 0", what)
	}
	return int(f), nil
}

// str reads a JSON string at p.i (which holds '"'), returning it as UTF-8 and its length in code
// points. Escapes are decoded, \uXXXX surrogate pairs combined; unpaired surrogates, raw control
// characters and invalid UTF-8 are rejected.
func (p *parser) str() (string, int, error) {
	p.i++ // opening quote
	start := p.i
	runes := 0
	// Fast path: no escapes.
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, runes, nil
		case c == '\\':
			return p.strSlow(start, runes)
		case c < 0x20:
			return "", 0, p.errf("control character in a string")
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", 0, p.errf("invalid UTF-8 in a string")
			}
			p.i += size
		}
		runes++
	}
	return "", 0, p.errf("unterminated string")
}

// strSlow continues str from the first escape.
func (p *parser) strSlow(start, runes int) (string, int, error) {
	buf := make([]byte, 0, p.i-start+16)
	buf = append(buf, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), runes, nil
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", 0, p.errf("unterminated string")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", 0, p.errf(`malformed \u escape`)
				}
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 {
						return "", 0, p.errf("unpaired low surrogate in a string")
					}
					if p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
						return "", 0, p.errf("unpaired high surrogate in a string")
					}
					p.i += 2
					r2, ok := p.hex4()
					if !ok {
						return "", 0, p.errf(`malformed \u escape`)
					}
					if r2 < 0xdc00 || r2 > 0xdfff {
						return "", 0, p.errf("unpaired high surrogate in a string")
					}
					r = utf16.DecodeRune(r, r2)
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", 0, p.errf("invalid escape '\\%c'", e)
			}
		case c < 0x20:
			return "", 0, p.errf("control character in a string")
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", 0, p.errf("invalid UTF-8 in a string")
			}
			buf = append(buf, p.b[p.i:p.i+size]...)
			p.i += size
		}
		runes++
	}
	return "", 0, p.errf("unterminated string")
}

// hex4 reads four hex digits at p.i.
func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}
