package tree

import (
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small strict JSON reader for exactly the shapes this engine reads. In a Go
// WASM guest encoding/json costs 20-40x more than hand-written parsing (docs/plugins.md): it
// made a move op cost ~365 µs through the module and a 1 MB snapshot miss the host's 1 s call
// deadline on open.

// maxValueDepth bounds the nesting of a payload.
const maxValueDepth = 256

// scanner reads one JSON text from b.
type scanner struct {
	b []byte
	i int
	// names, when not nil, interns the names read (ids, keys, peers repeat across a snapshot):
	// one allocation per distinct name, which matters to a WASM guest's garbage collector.
	names   map[string]string
	scratch []byte // reused by payload
	slab    []node // ParseSnapshot's next nodes
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat skips whitespace and consumes c if it comes next.
func (s *scanner) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// end checks that only whitespace is left.
func (s *scanner) end(what string) error {
	s.ws()
	if s.i != len(s.b) {
		return invalid("%s: data after the JSON value", what)
	}
	return nil
}

// object reads an object, calling f with each key while the scanner is at its value; f must
// read the value. Keys may not repeat when f keeps track (see fields).
func (s *scanner) object(what string, f func(key string) error) error {
	if !s.eat('{') {
		return invalid("%s is not a JSON object", what)
	}
	if s.eat('}') {
		return nil
	}
	for {
		if s.peek() != '"' {
			return invalid("%s: malformed object", what)
		}
		k, err := s.str(what)
		if err != nil {
			return err
		}
		if !s.eat(':') {
			return invalid("%s: malformed object", what)
		}
		if err := f(k); err != nil {
			return err
		}
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return nil
		}
		return invalid("%s: malformed object", what)
	}
}

// array reads an array, calling f at each element; f must read it.
func (s *scanner) array(what string, f func() error) error {
	if !s.eat('[') {
		return invalid("%s must be an array", what)
	}
	if s.eat(']') {
		return nil
	}
	for {
		if err := f(); err != nil {
			return err
		}
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			return nil
		}
		return invalid("%s: malformed array", what)
	}
}

// str reads a string and returns it decoded.
func (s *scanner) str(what string) (string, error) {
	if !s.eat('"') {
		return "", invalid("%s: expected a string", what)
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !utf8.Valid(raw) {
				return "", invalid("%s: string is not valid UTF-8", what)
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
			return "", invalid("%s: control character in a string", what)
		}
		s.i++
	}
	return "", invalid("%s: unterminated string", what)
}

// strSlow decodes a string with escapes, from its first byte at start.
func (s *scanner) strSlow(start int, what string) (string, error) {
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(out) {
				return "", invalid("%s: string is not valid UTF-8", what)
			}
			return string(out), nil
		case c < 0x20:
			return "", invalid("%s: control character in a string", what)
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
				return "", invalid("%s: bad \\u escape", what)
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					if r2, ok = s.hex4(); !ok {
						return "", invalid("%s: bad \\u escape", what)
					}
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", invalid("%s: unpaired surrogate in a string", what)
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", invalid("%s: bad escape in a string", what)
		}
	}
	return "", invalid("%s: unterminated string", what)
}

func (s *scanner) hex4() (rune, bool) {
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

// int reads a non-negative integer that fits an int64, in JSON's integer syntax.
func (s *scanner) int(what, field string) (int64, error) {
	s.ws()
	start := s.i
	var n int64
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		d := int64(s.b[s.i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, invalid("%s: %s out of range", what, field)
		}
		n = n*10 + d
		s.i++
	}
	switch {
	case s.i == start && s.i < len(s.b) && s.b[s.i] == '-':
		return 0, invalid("%s: negative %s", what, field)
	case s.i == start, s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E'):
		return 0, invalid("%s: %s must be an integer", what, field)
	case s.b[start] == '0' && s.i-start > 1:
		return 0, invalid("%s: leading zero in %s", what, field)
	}
	return n, nil
}

// name reads a string that names something: non-empty, at most max bytes, plain.
func (s *scanner) name(what, field string, max int) (string, error) {
	if s.peek() != '"' {
		return "", invalid("%s: %s must be a string", what, field)
	}
	v, err := s.str(what)
	switch {
	case err != nil:
		return "", err
	case v == "":
		return "", invalid("%s: empty %s", what, field)
	case len(v) > max:
		return "", invalid("%s: %s longer than %d bytes", what, field, max)
	case !plain(v):
		return "", invalid("%s: %s holds a control character, quote or backslash", what, field)
	}
	return v, nil
}

// payload reads any JSON value, compacted, of at most max bytes (one allocation).
func (s *scanner) payload(what, field string, max int) ([]byte, error) {
	v, err := s.value(s.scratch[:0], what)
	if err != nil {
		return nil, err
	}
	s.scratch = v
	if len(v) > max {
		return nil, invalid("%s: %s longer than %d bytes", what, field, max)
	}
	return append(make([]byte, 0, len(v)), v...), nil
}

// literal consumes word (true, false, null) if it comes next.
func (s *scanner) literal(word string) bool {
	s.ws()
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// value reads any JSON value and appends it to dst compacted (insignificant whitespace
// removed, everything else as written, like json.Compact).
func (s *scanner) value(dst []byte, what string) ([]byte, error) {
	return s.valueDepth(dst, what, 0)
}

func (s *scanner) valueDepth(dst []byte, what string, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return nil, invalid("%s: value nested deeper than %d", what, maxValueDepth)
	}
	var err error
	switch c := s.peek(); {
	case c == '{':
		s.i++
		dst = append(dst, '{')
		if s.eat('}') {
			return append(dst, '}'), nil
		}
		for {
			if s.peek() != '"' {
				return nil, invalid("%s: malformed object", what)
			}
			if dst, err = s.rawString(dst, what); err != nil {
				return nil, err
			}
			if !s.eat(':') {
				return nil, invalid("%s: malformed object", what)
			}
			dst = append(dst, ':')
			if dst, err = s.valueDepth(dst, what, depth+1); err != nil {
				return nil, err
			}
			if s.eat(',') {
				dst = append(dst, ',')
				continue
			}
			if s.eat('}') {
				return append(dst, '}'), nil
			}
			return nil, invalid("%s: malformed object", what)
		}
	case c == '[':
		s.i++
		dst = append(dst, '[')
		if s.eat(']') {
			return append(dst, ']'), nil
		}
		for {
			if dst, err = s.valueDepth(dst, what, depth+1); err != nil {
				return nil, err
			}
			if s.eat(',') {
				dst = append(dst, ',')
				continue
			}
			if s.eat(']') {
				return append(dst, ']'), nil
			}
			return nil, invalid("%s: malformed array", what)
		}
	case c == '"':
		return s.rawString(dst, what)
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number(dst, what)
	case s.literal("true"):
		return append(dst, "true"...), nil
	case s.literal("false"):
		return append(dst, "false"...), nil
	case s.literal("null"):
		return append(dst, "null"...), nil
	}
	return nil, invalid("%s: not a JSON value", what)
}

// rawString checks a string (escapes, UTF-8, no control characters) and appends it as written.
func (s *scanner) rawString(dst []byte, what string) ([]byte, error) {
	start := s.i
	s.i++ // the opening quote
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(s.b[start:s.i]) {
				return nil, invalid("%s: string is not valid UTF-8", what)
			}
			return append(dst, s.b[start:s.i]...), nil
		case c < 0x20:
			return nil, invalid("%s: control character in a string", what)
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, invalid("%s: unterminated string", what)
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				s.i += 2
				if _, ok := s.hex4(); !ok {
					return nil, invalid("%s: bad \\u escape", what)
				}
			default:
				return nil, invalid("%s: bad escape in a string", what)
			}
		default:
			s.i++
		}
	}
	return nil, invalid("%s: unterminated string", what)
}

// number checks a number in JSON syntax and appends it as written.
func (s *scanner) number(dst []byte, what string) ([]byte, error) {
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
		return nil, invalid("%s: malformed number", what)
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return nil, invalid("%s: malformed number", what)
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return nil, invalid("%s: malformed number", what)
		}
	}
	return append(dst, s.b[start:s.i]...), nil
}

// fields tracks which keys of an object were seen, so a repeated key is refused.
type fields struct {
	seen uint32
	what string
}

// once marks field number f (below 32) as seen; it fails if it was already.
func (fs *fields) once(f int, key string) error {
	if fs.seen&(1<<f) != 0 {
		return invalid("%s: key %q twice", fs.what, key)
	}
	fs.seen |= 1 << f
	return nil
}

func (fs *fields) has(f int) bool { return fs.seen&(1<<f) != 0 }
