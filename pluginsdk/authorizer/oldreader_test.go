package authorizer

// The request and decision readers as they were before the SWAR scanning and interning
// (byte-at-a-time, allocating), kept as the reference the fuzz tests compare against: the new
// ones must accept, refuse and report exactly as these did.

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

const oldMaxDepth = 32

// ParseRequest decodes a request strictly: the known fields must have their JSON types
// (strings; headers an object of strings; nowUnixMillis an integer), unknown fields are skipped,
// null leaves a field empty. Errors wrap ErrInvalid.
func oldParseRequest(b []byte) (Request, error) {
	var r Request
	p := oldReader{b: b}
	err := p.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "action":
			r.Action, err = p.stringOrNull()
		case "docId":
			r.DocID, err = p.stringOrNull()
		case "token":
			r.Token, err = p.stringOrNull()
		case "nowUnixMillis":
			r.NowUnixMillis, err = p.int()
		case "headers":
			if p.null() {
				return nil
			}
			r.Headers = make(map[string]string)
			err = p.object(func(k []byte) error {
				v, err := p.stringOrNull()
				r.Headers[string(k)] = v
				return err
			})
		default:
			err = p.skip(0)
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return Request{}, err
	}
	p.ws()
	if p.i != len(p.b) {
		return Request{}, p.errf("unexpected data after the request")
	}
	return r, nil
}

// oldReader is a small strict JSON oldReader.
type oldReader struct {
	b   []byte
	i   int
	buf []byte // scratch for keys with escapes
}

func (p *oldReader) errf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrInvalid, p.i, fmt.Sprintf(format, args...))
}

func (p *oldReader) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *oldReader) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *oldReader) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *oldReader) null() bool { return p.peek() == 'n' && p.lit("null") }

// object reads an object, calling field for each key with p positioned at its value. The key
// slice is only valid during the call.
func (p *oldReader) object(field func(key []byte) error) error {
	if p.peek() != '{' {
		return p.errf("expected an object")
	}
	p.i++
	if p.peek() == '}' {
		p.i++
		return nil
	}
	for {
		if p.peek() != '"' {
			return p.errf("expected a key")
		}
		key, err := p.str(true)
		if err != nil {
			return err
		}
		if p.peek() != ':' {
			return p.errf("expected ':'")
		}
		p.i++
		if err := field(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.errf("expected ',' or '}'")
		}
	}
}

func (p *oldReader) stringOrNull() (string, error) {
	switch p.peek() {
	case '"':
		b, err := p.str(false)
		return string(b), err
	case 'n':
		if p.lit("null") {
			return "", nil
		}
	}
	return "", p.errf("expected a string")
}

func (p *oldReader) int() (int64, error) {
	if p.null() {
		return 0, nil
	}
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	d := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == d {
		return 0, p.errf("expected an integer")
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, p.errf("expected an integer")
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		return 0, p.errf("integer out of range")
	}
	return n, nil
}

// str reads a string at p.i. With scratch, the result may alias p.buf (valid until the next
// call); otherwise it aliases the input or a fresh buffer.
func (p *oldReader) str(scratch bool) ([]byte, error) {
	p.i++
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], nil
		case c == '\\':
			return p.strSlow(start, scratch)
		case c < 0x20:
			return nil, p.errf("control character in a string")
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				return nil, p.errf("invalid UTF-8")
			}
			p.i += size
		}
	}
	return nil, p.errf("unterminated string")
}

func (p *oldReader) strSlow(start int, scratch bool) ([]byte, error) {
	var buf []byte
	if scratch {
		buf = p.buf[:0]
	}
	buf = append(buf, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if scratch {
				p.buf = buf
			}
			return buf, nil
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return nil, p.errf("unterminated string")
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
					return nil, p.errf(`malformed \u escape`)
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if r < 0xdc00 && p.lit(`\u`) {
						r2, ok = p.hex4()
						if !ok {
							return nil, p.errf(`malformed \u escape`)
						}
					}
					if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
						return nil, p.errf("unpaired surrogate")
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, p.errf("invalid escape")
			}
		case c < 0x20:
			return nil, p.errf("control character in a string")
		default:
			buf = append(buf, c)
			p.i++
		}
	}
	return nil, p.errf("unterminated string")
}

func (p *oldReader) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// skip reads and discards any JSON value.
func (p *oldReader) skip(depth int) error {
	if depth > oldMaxDepth {
		return p.errf("nested too deeply")
	}
	switch c := p.peek(); {
	case c == '"':
		_, err := p.str(true)
		return err
	case c == '{':
		return p.object(func([]byte) error { return p.skip(depth + 1) })
	case c == '[':
		p.i++
		if p.peek() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return p.errf("expected ',' or ']'")
			}
		}
	case c == 't':
		if p.lit("true") {
			return nil
		}
	case c == 'f':
		if p.lit("false") {
			return nil
		}
	case c == 'n':
		if p.lit("null") {
			return nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		p.i++
		for p.i < len(p.b) && (p.b[p.i] >= '0' && p.b[p.i] <= '9' || p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E' || p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		return nil
	}
	return p.errf("expected a JSON value")
}

// ParseDecision reads a decision as AppendDecision writes it (the host's side). Unknown fields
// are skipped; wrong types are errors.
func oldParseDecision(b []byte) (Decision, error) {
	var d Decision
	p := oldReader{b: b}
	err := p.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "access":
			d.Access, err = p.stringOrNull()
		case "tenant":
			d.Tenant, err = p.stringOrNull()
		case "subject":
			d.Subject, err = p.stringOrNull()
		case "reason":
			d.Reason, err = p.stringOrNull()
		case "expiresAtUnixMillis":
			d.ExpiresAtUnixMillis, err = p.int()
		default:
			err = p.skip(0)
		}
		if err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return Decision{}, err
	}
	p.ws()
	if p.i != len(p.b) {
		return Decision{}, p.errf("unexpected data after the decision")
	}
	return d, nil
}

// oldAppendDecision is AppendDecision as it was: wasm.AppendJSONString for every string.
func oldAppendDecision(d Decision) []byte {
	dst := append([]byte(nil), `{"access":`...)
	dst = wasm.AppendJSONString(dst, d.Access)
	if d.Tenant != "" {
		dst = append(dst, `,"tenant":`...)
		dst = wasm.AppendJSONString(dst, d.Tenant)
	}
	if d.Subject != "" {
		dst = append(dst, `,"subject":`...)
		dst = wasm.AppendJSONString(dst, d.Subject)
	}
	if d.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = wasm.AppendJSONString(dst, d.Reason)
	}
	if d.ExpiresAtUnixMillis != 0 {
		dst = append(dst, `,"expiresAtUnixMillis":`...)
		dst = strconv.AppendInt(dst, d.ExpiresAtUnixMillis, 10)
	}
	return append(dst, '}')
}

// oldAppendRequest is AppendRequest as it was, for a request with at most one header.
func oldAppendRequest(r Request) []byte {
	dst := append([]byte(nil), `{"action":`...)
	dst = wasm.AppendJSONString(dst, r.Action)
	dst = append(dst, `,"docId":`...)
	dst = wasm.AppendJSONString(dst, r.DocID)
	dst = append(dst, `,"token":`...)
	dst = wasm.AppendJSONString(dst, r.Token)
	if len(r.Headers) > 0 {
		dst = append(dst, `,"headers":{`...)
		for k, v := range r.Headers {
			dst = wasm.AppendJSONString(dst, k)
			dst = append(dst, ':')
			dst = wasm.AppendJSONString(dst, v)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"nowUnixMillis":`...)
	dst = strconv.AppendInt(dst, r.NowUnixMillis, 10)
	return append(dst, '}')
}
