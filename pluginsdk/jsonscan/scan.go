package jsonscan

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error about malformed input.
var ErrInvalid = errors.New("invalid")

// Invalid returns an error wrapping ErrInvalid with a formatted message, "invalid: message".
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// MaxDepth bounds the nesting of a value read by Value or Payload.
const MaxDepth = 256

// Scanner reads one JSON text. The zero value reads nothing; make one with New or NewInterning.
// A Scanner is not safe for concurrent use.
type Scanner struct {
	b []byte
	i int
	// names, when not nil, interns the strings read by Str and Name (ids, keys, peers repeat
	// across a snapshot): one allocation per distinct string, which matters to a WASM guest's
	// garbage collector.
	names   map[string]string
	scratch []byte // reused by Payload
}

// New returns a Scanner reading b. b must not change while the Scanner reads it.
func New(b []byte) Scanner { return Scanner{b: b} }

// NewInterning returns a Scanner reading b that interns the strings it decodes: use it for
// inputs where the same names repeat, like a snapshot.
func NewInterning(b []byte) Scanner { return Scanner{b: b, names: map[string]string{}} }

// AppendString appends s as a JSON string, as is: s must be Plain (every string Name returns is).
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Plain reports whether s needs no escaping in JSON: no control characters, quotes or
// backslashes (so a document's size is a sum of its strings' lengths).
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (s *Scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Eat skips whitespace and consumes c if it comes next.
func (s *Scanner) Eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// Peek skips whitespace and returns the next byte (0 at the end).
func (s *Scanner) Peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// End checks that only whitespace is left; what names the input in the error.
func (s *Scanner) End(what string) error {
	s.ws()
	if s.i != len(s.b) {
		return Invalid("%s: data after the JSON value", what)
	}
	return nil
}

// Object reads an object, calling f with each key while the scanner is at its value; f must
// read the value. Keys may repeat unless f refuses them (see Fields).
func (s *Scanner) Object(what string, f func(key string) error) error {
	if !s.Eat('{') {
		return Invalid("%s is not a JSON object", what)
	}
	if s.Eat('}') {
		return nil
	}
	for {
		if s.Peek() != '"' {
			return Invalid("%s: malformed object", what)
		}
		k, err := s.Str(what)
		if err != nil {
			return err
		}
		if !s.Eat(':') {
			return Invalid("%s: malformed object", what)
		}
		if err := f(k); err != nil {
			return err
		}
		if s.Eat(',') {
			continue
		}
		if s.Eat('}') {
			return nil
		}
		return Invalid("%s: malformed object", what)
	}
}

// Array reads an array, calling f at each element; f must read it.
func (s *Scanner) Array(what string, f func() error) error {
	if !s.Eat('[') {
		return Invalid("%s must be an array", what)
	}
	if s.Eat(']') {
		return nil
	}
	for {
		if err := f(); err != nil {
			return err
		}
		if s.Eat(',') {
			continue
		}
		if s.Eat(']') {
			return nil
		}
		return Invalid("%s: malformed array", what)
	}
}

// Str reads a string and returns it decoded (interned when the Scanner interns names).
func (s *Scanner) Str(what string) (string, error) {
	if !s.Eat('"') {
		return "", Invalid("%s: expected a string", what)
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !utf8.Valid(raw) {
				return "", Invalid("%s: string is not valid UTF-8", what)
			}
			if s.names == nil {
				return string(raw), nil
			}
			if v, ok := s.names[string(raw)]; ok {
				return v, nil
			}
			v := string(raw)
			s.names[v] = v
			return v, nil
		case c == '\\':
			return s.strSlow(start, what)
		case c < 0x20:
			return "", Invalid("%s: control character in a string", what)
		}
		s.i++
	}
	return "", Invalid("%s: unterminated string", what)
}

// strSlow decodes a string with escapes, from its first byte at start.
func (s *Scanner) strSlow(start int, what string) (string, error) {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(out) {
				return "", Invalid("%s: string is not valid UTF-8", what)
			}
			return string(out), nil
		case c < 0x20:
			return "", Invalid("%s: control character in a string", what)
		case c != '\\':
			out = append(out, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
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
			r, ok := s.hex4()
			if !ok {
				return "", Invalid("%s: bad \\u escape", what)
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					if r2, ok = s.hex4(); !ok {
						return "", Invalid("%s: bad \\u escape", what)
					}
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", Invalid("%s: unpaired surrogate in a string", what)
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", Invalid("%s: bad escape in a string", what)
		}
	}
	return "", Invalid("%s: unterminated string", what)
}

func (s *Scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// Int reads a non-negative integer that fits an int64, in JSON's integer syntax.
func (s *Scanner) Int(what, field string) (int64, error) {
	s.ws()
	start := s.i
	var n int64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		d := int64(s.b[s.i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, Invalid("%s: %s out of range", what, field)
		}
		n = n*10 + d
		s.i++
	}
	switch {
	case s.i == start && s.i < len(s.b) && s.b[s.i] == '-':
		return 0, Invalid("%s: negative %s", what, field)
	case s.i == start, s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E'):
		return 0, Invalid("%s: %s must be an integer", what, field)
	case s.b[start] == '0' && s.i-start > 1:
		return 0, Invalid("%s: leading zero in %s", what, field)
	}
	return n, nil
}

// Name reads a string that names something: non-empty, at most max bytes, Plain.
func (s *Scanner) Name(what, field string, max int) (string, error) {
	if s.Peek() != '"' {
		return "", Invalid("%s: %s must be a string", what, field)
	}
	v, err := s.Str(what)
	switch {
	case err != nil:
		return "", err
	case v == "":
		return "", Invalid("%s: empty %s", what, field)
	case len(v) > max:
		return "", Invalid("%s: %s longer than %d bytes", what, field, max)
	case !Plain(v):
		return "", Invalid("%s: %s holds a control character, quote or backslash", what, field)
	}
	return v, nil
}

// Payload reads any JSON value, compacted, of at most max bytes, into a new slice (one
// allocation: the compacting buffer is reused across calls).
func (s *Scanner) Payload(what, field string, max int) ([]byte, error) {
	v, err := s.Value(s.scratch[:0], what)
	if err != nil {
		return nil, err
	}
	s.scratch = v
	if len(v) > max {
		return nil, Invalid("%s: %s longer than %d bytes", what, field, max)
	}
	return append(make([]byte, 0, len(v)), v...), nil
}

// Literal consumes word (true, false, null) if it comes next.
func (s *Scanner) Literal(word string) bool {
	s.ws()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// Value reads any JSON value, nested at most MaxDepth deep, and appends it to dst compacted (insignificant whitespace
// removed, everything else as written, like json.Compact).
func (s *Scanner) Value(dst []byte, what string) ([]byte, error) {
	return s.valueDepth(dst, what, 0)
}

func (s *Scanner) valueDepth(dst []byte, what string, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return nil, Invalid("%s: value nested deeper than %d", what, MaxDepth)
	}
	var err error
	switch c := s.Peek(); {
	case c == '{':
		s.i++
		dst = append(dst, '{')
		if s.Eat('}') {
			return append(dst, '}'), nil
		}
		for {
			if s.Peek() != '"' {
				return nil, Invalid("%s: malformed object", what)
			}
			if dst, err = s.rawString(dst, what); err != nil {
				return nil, err
			}
			if !s.Eat(':') {
				return nil, Invalid("%s: malformed object", what)
			}
			dst = append(dst, ':')
			if dst, err = s.valueDepth(dst, what, depth+1); err != nil {
				return nil, err
			}
			if s.Eat(',') {
				dst = append(dst, ',')
				continue
			}
			if s.Eat('}') {
				return append(dst, '}'), nil
			}
			return nil, Invalid("%s: malformed object", what)
		}
	case c == '[':
		s.i++
		dst = append(dst, '[')
		if s.Eat(']') {
			return append(dst, ']'), nil
		}
		for {
			if dst, err = s.valueDepth(dst, what, depth+1); err != nil {
				return nil, err
			}
			if s.Eat(',') {
				dst = append(dst, ',')
				continue
			}
			if s.Eat(']') {
				return append(dst, ']'), nil
			}
			return nil, Invalid("%s: malformed array", what)
		}
	case c == '"':
		return s.rawString(dst, what)
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number(dst, what)
	case s.Literal("true"):
		return append(dst, "true"...), nil
	case s.Literal("false"):
		return append(dst, "false"...), nil
	case s.Literal("null"):
		return append(dst, "null"...), nil
	}
	return nil, Invalid("%s: not a JSON value", what)
}

// rawString checks a string (escapes, UTF-8, no control characters) and appends it as written.
func (s *Scanner) rawString(dst []byte, what string) ([]byte, error) {
	start := s.i
	s.i++ // the opening quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(s.b[start:s.i]) {
				return nil, Invalid("%s: string is not valid UTF-8", what)
			}
			return append(dst, s.b[start:s.i]...), nil
		case c < 0x20:
			return nil, Invalid("%s: control character in a string", what)
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, Invalid("%s: unterminated string", what)
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				s.i += 2
				if _, ok := s.hex4(); !ok {
					return nil, Invalid("%s: bad \\u escape", what)
				}
			default:
				return nil, Invalid("%s: bad escape in a string", what)
			}
		default:
			s.i++
		}
	}
	return nil, Invalid("%s: unterminated string", what)
}

// number checks a number in JSON syntax and appends it as written.
func (s *Scanner) number(dst []byte, what string) ([]byte, error) {
	start := s.i
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	first := s.i
	if n := digits(); n == 0 || (n > 1 && s.b[first] == '0') {
		return nil, Invalid("%s: malformed number", what)
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, Invalid("%s: malformed number", what)
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, Invalid("%s: malformed number", what)
		}
	}
	return append(dst, s.b[start:s.i]...), nil
}

// Fields tracks which keys of an object were seen, so a repeated key is refused. Number the
// keys an object may hold from 0 to 31.
type Fields struct {
	seen uint32
	What string // names the object in errors
}

// Once marks field number f (below 32) as seen; it fails if it was already.
func (fs *Fields) Once(f int, key string) error {
	if fs.seen&(1<<f) != 0 {
		return Invalid("%s: key %q twice", fs.What, key)
	}
	fs.seen |= 1 << f
	return nil
}

// Has reports whether field number f was seen.
func (fs *Fields) Has(f int) bool { return fs.seen&(1<<f) != 0 }

// Seen returns the fields seen as a bit set: bit f for field number f.
func (fs *Fields) Seen() uint32 { return fs.seen }
