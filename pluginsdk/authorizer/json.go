package authorizer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
	"github.com/opstream/opstream/pluginsdk/wasm"
)

// ErrInvalid is wrapped by errors meaning the input (a request or a config) is invalid: status 1.
var ErrInvalid = errors.New("invalid input")

// Invalid returns an error wrapping ErrInvalid with a formatted message.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// maxDepth bounds the nesting of ignored values in a request.
const maxDepth = 32

// ParseRequest decodes a request strictly: the known fields must have their JSON types
// (strings; headers an object of strings; nowUnixMillis an integer), unknown fields are skipped,
// null leaves a field empty. Errors wrap ErrInvalid.
func ParseRequest(b []byte) (Request, error) { return parseRequest(b, nil) }

// lastRequest holds the strings of the previous request a module parsed: a client's requests
// repeat its token and often the document, so a module reuses them instead of allocating
// (strings are immutable, so an authorizer that keeps one is not affected). Only the guest's
// authorize uses one (a WASM instance runs one call at a time); ParseRequest does not.
type lastRequest struct {
	docID, token string
}

// parseRequest is ParseRequest, reusing last's strings when last is not nil.
func parseRequest(b []byte, last *lastRequest) (Request, error) {
	var r Request
	p := reader{b: b}
	err := p.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "action":
			r.Action, err = p.action()
		case "docId":
			if last == nil {
				r.DocID, err = p.stringOrNull()
			} else {
				r.DocID, err = p.internedOrNull(&last.docID)
			}
		case "token":
			if last == nil {
				r.Token, err = p.stringOrNull()
			} else {
				r.Token, err = p.internedOrNull(&last.token)
			}
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

// AppendDecision appends d as JSON to dst (empty optional fields omitted).
func AppendDecision(dst []byte, d Decision) []byte {
	switch d.Access {
	case AccessNone:
		dst = append(dst, `{"access":"none"`...)
	case AccessRead:
		dst = append(dst, `{"access":"read"`...)
	case AccessWrite:
		dst = append(dst, `{"access":"write"`...)
	default:
		dst = append(dst, `{"access":`...)
		dst = appendString(dst, d.Access)
	}
	if d.Tenant != "" {
		dst = append(dst, `,"tenant":`...)
		dst = appendString(dst, d.Tenant)
	}
	if d.Subject != "" {
		dst = append(dst, `,"subject":`...)
		dst = appendString(dst, d.Subject)
	}
	if d.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = appendString(dst, d.Reason)
	}
	if d.ExpiresAtUnixMillis != 0 {
		dst = append(dst, `,"expiresAtUnixMillis":`...)
		dst = strconv.AppendInt(dst, d.ExpiresAtUnixMillis, 10)
	}
	return append(dst, '}')
}

// appendString appends s as wasm.AppendJSONString does, copying it whole when it needs no
// escaping (found 8 bytes at a time, the common case) instead of looking at it byte by byte.
func appendString(dst []byte, s string) []byte {
	n, nonASCII := jsonscan.StringRun(unsafe.Slice(unsafe.StringData(s), len(s)))
	if n != len(s) || (nonASCII && !utf8.ValidString(s)) {
		return wasm.AppendJSONString(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// reader is a small strict JSON reader.
type reader struct {
	b   []byte
	i   int
	buf []byte // scratch for keys with escapes
}

func (p *reader) errf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrInvalid, p.i, fmt.Sprintf(format, args...))
}

func (p *reader) ws() {
	// Requests the host writes have no whitespace: do not enter the loop then.
	if p.i < len(p.b) && p.b[p.i] > ' ' {
		return
	}
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *reader) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *reader) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *reader) null() bool { return p.peek() == 'n' && p.lit("null") }

// object reads an object, calling field for each key with p positioned at its value. The key
// slice is only valid during the call.
func (p *reader) object(field func(key []byte) error) error {
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

func (p *reader) stringOrNull() (string, error) {
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

// action is stringOrNull returning the actions' constants instead of copies.
func (p *reader) action() (string, error) {
	if p.peek() != '"' {
		return p.stringOrNull()
	}
	b, err := p.str(false)
	if err != nil {
		return "", err
	}
	switch string(b) {
	case ActionJoin:
		return ActionJoin, nil
	case ActionRead:
		return ActionRead, nil
	case ActionWrite:
		return ActionWrite, nil
	case ActionAwareness:
		return ActionAwareness, nil
	}
	return string(b), nil
}

// access is stringOrNull returning the access levels' constants instead of copies.
func (p *reader) access() (string, error) {
	if p.peek() != '"' {
		return p.stringOrNull()
	}
	b, err := p.str(false)
	if err != nil {
		return "", err
	}
	switch string(b) {
	case AccessNone:
		return AccessNone, nil
	case AccessRead:
		return AccessRead, nil
	case AccessWrite:
		return AccessWrite, nil
	}
	return string(b), nil
}

// internedOrNull is stringOrNull returning *last when the string equals it, else a new string
// that becomes *last.
func (p *reader) internedOrNull(last *string) (string, error) {
	if p.peek() != '"' {
		return p.stringOrNull()
	}
	b, err := p.str(false)
	if err != nil {
		return "", err
	}
	if string(b) != *last {
		*last = string(b)
	}
	return *last, nil
}

func (p *reader) int() (int64, error) {
	if p.null() {
		return 0, nil
	}
	neg := false
	if p.i < len(p.b) && p.b[p.i] == '-' {
		neg = true
		p.i++
	}
	d := p.i
	// As strconv.ParseInt(s, 10, 64) would (leading zeros allowed), without the string it
	// allocates: magnitude up to 1<<63 for a negative number, 1<<63-1 otherwise.
	var u uint64
	over := false
	// 8 digits per step while there are (a millisecond time has 13), then one at a time.
	for p.i+8 <= len(p.b) {
		w := binary.LittleEndian.Uint64(p.b[p.i:])
		if !digits8(w) {
			break
		}
		v := value8(w)
		if u > (1<<64-1-v)/1e8 {
			over = true
		} else {
			u = u*1e8 + v
		}
		p.i += 8
	}
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		c := uint64(p.b[p.i] - '0')
		if u > (1<<64-1-c)/10 {
			over = true
		} else {
			u = u*10 + c
		}
		p.i++
	}
	if p.i == d {
		return 0, p.errf("expected an integer")
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, p.errf("expected an integer")
	}
	switch {
	case over, !neg && u > 1<<63-1, neg && u > 1<<63:
		return 0, p.errf("integer out of range")
	case neg:
		return -int64(u), nil
	}
	return int64(u), nil
}

// digits8 reports whether the 8 bytes of w (read little-endian) are all ASCII digits: each
// has high nibble 3, and adding 6 leaves it 3 (a carry out of a byte only comes from one whose
// high nibble is not 3, which fails the first test).
func digits8(w uint64) bool {
	const f0, six, threes = 0xF0F0F0F0F0F0F0F0, 0x0606060606060606, 0x3333333333333333
	return (w&f0)|((w+six)&f0)>>4 == threes
}

// value8 is the number the 8 ASCII digits of w spell, the first digit in the lowest byte.
func value8(w uint64) uint64 {
	w -= 0x3030303030303030
	w = (w*10 + w>>8) & 0x00FF00FF00FF00FF
	w = (w*100 + w>>16) & 0x0000FFFF0000FFFF
	return (w*10000 + w>>32) & 0xFFFFFFFF
}

// str reads a string at p.i. With scratch, the result may alias p.buf (valid until the next
// call); otherwise it aliases the input or a fresh buffer. It finds the end of the string's
// plain run 8 bytes at a time (jsonscan.StringRun) and checks UTF-8 only when that run has
// non-ASCII bytes; errors are those of a byte-by-byte reader (the first problem from the left).
func (p *reader) str(scratch bool) ([]byte, error) {
	p.i++
	start := p.i
	n, nonASCII := jsonscan.StringRun(p.b[start:])
	if nonASCII {
		if k := invalidUTF8(p.b[start : start+n]); k >= 0 {
			p.i = start + k
			return nil, p.errf("invalid UTF-8")
		}
	}
	p.i = start + n
	if p.i >= len(p.b) {
		return nil, p.errf("unterminated string")
	}
	switch c := p.b[p.i]; c {
	case '"':
		p.i++
		return p.b[start : p.i-1], nil
	case '\\':
		return p.strSlow(start, scratch)
	}
	return nil, p.errf("control character in a string")
}

// invalidUTF8 returns the index of the first byte of b that does not start a valid UTF-8
// sequence, or -1 when b is valid UTF-8.
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

func (p *reader) strSlow(start int, scratch bool) ([]byte, error) {
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
			// A plain run: copied as it is (not checked as UTF-8 after an escape).
			n, _ := jsonscan.StringRun(p.b[p.i:])
			buf = append(buf, p.b[p.i:p.i+n]...)
			p.i += n
		}
	}
	return nil, p.errf("unterminated string")
}

func (p *reader) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.i += 4
	return r, true
}

// skip reads and discards any JSON value.
func (p *reader) skip(depth int) error {
	if depth > maxDepth {
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

// AppendRequest appends r as JSON to dst: the host's encoding of a request, read by
// ParseRequest.
func AppendRequest(dst []byte, r Request) []byte {
	// Room for the request without escapes, so a long token does not grow dst twice.
	n := len(`{"action":"","docId":"","token":"","nowUnixMillis":-9223372036854775808}`) + len(r.Action) + len(r.DocID) + len(r.Token)
	if len(r.Headers) > 0 {
		n += len(`,"headers":{}`)
		for k, v := range r.Headers {
			n += len(k) + len(v) + len(`"":"",`)
		}
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, `{"action":`...)
	dst = appendString(dst, r.Action)
	dst = append(dst, `,"docId":`...)
	dst = appendString(dst, r.DocID)
	dst = append(dst, `,"token":`...)
	dst = appendString(dst, r.Token)
	if len(r.Headers) > 0 {
		dst = append(dst, `,"headers":{`...)
		first := true
		for k, v := range r.Headers {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, v)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `,"nowUnixMillis":`...)
	dst = strconv.AppendInt(dst, r.NowUnixMillis, 10)
	return append(dst, '}')
}

// ParseDecision reads a decision as AppendDecision writes it (the host's side). Unknown fields
// are skipped; wrong types are errors.
func ParseDecision(b []byte) (Decision, error) {
	var d Decision
	p := reader{b: b}
	err := p.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "access":
			d.Access, err = p.access()
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
