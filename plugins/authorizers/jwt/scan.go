package jwt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
)

// A small JSON scanner for a token's header and claims. encoding/json costs a Go WASM guest
// hundreds of microseconds per token (reflection, maps); this reads only the members asked for
// and skips the rest. It runs on bytes that are either tiny (the header) or already
// authenticated (the claims, read after the signature check).

var errSyntax = errors.New("malformed JSON")

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	// Tokens rarely have whitespace in their JSON: do not enter the loop then (in a sandboxed
	// runtime every loop iteration is a check that leaves the guest).
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// document reads a whole input that is one JSON object; see object.
func (s *scanner) document(member func(key []byte) error) error {
	if err := s.object(member); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return errSyntax
	}
	return nil
}

// object reads a JSON object, calling member with s positioned at each member's value; member
// must consume the value (or call skip).
func (s *scanner) object(member func(key []byte) error) error {
	if s.peek() != '{' {
		return errSyntax
	}
	s.i++
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			if s.peek() != '"' {
				return errSyntax
			}
			key, err := s.rawString()
			if err != nil {
				return err
			}
			if s.peek() != ':' {
				return errSyntax
			}
			s.i++
			s.ws()
			if err := member(key); err != nil {
				return err
			}
			c := s.peek()
			s.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return errSyntax
			}
		}
	}
	return nil
}

// rawString reads a string token and returns its contents, escapes undone only when present
// (keys compared raw: a key spelled with escapes does not match a known name, and is skipped).
// It looks at 8 bytes per step (SWAR): a guest pays for each loop iteration.
func (s *scanner) rawString() ([]byte, error) {
	start := s.i + 1
	j := start
	for {
		if j+8 <= len(s.b) {
			m := special8(binary.LittleEndian.Uint64(s.b[j:]))
			if m == 0 {
				j += 8
				continue
			}
			// The lowest flagged byte is exact (false positives only come after a true one).
			j += bits.TrailingZeros64(m) >> 3
		} else {
			for j < len(s.b) && s.b[j] != '"' && s.b[j] != '\\' && s.b[j] >= 0x20 {
				j++
			}
			if j >= len(s.b) {
				return nil, errSyntax
			}
		}
		switch c := s.b[j]; c {
		case '"':
			s.i = j + 1
			return s.b[start:j], nil
		case '\\':
			return s.escapedString(start)
		default: // a control character
			return nil, errSyntax
		}
	}
}

// special8 flags (high bit of each byte) the bytes of w, 8 bytes little-endian, that are '"',
// '\\' or below 0x20: the classic has-zero-byte and has-less-than tests.
func special8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := w ^ (ones * '"')
	b := w ^ (ones * '\\')
	return ((q - ones) &^ q & highs) | ((b - ones) &^ b & highs) | ((w - ones*0x20) &^ w & highs)
}

// escapedString reads the rest of a string token that has escapes, from its contents' start.
func (s *scanner) escapedString(start int) ([]byte, error) {
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '\\':
			j++
		case c == '"':
			s.i = j + 1
			var out string
			if err := json.Unmarshal(s.b[start-1:j+1], &out); err != nil {
				return nil, errSyntax
			}
			return []byte(out), nil
		case c < 0x20:
			return nil, errSyntax
		}
	}
	return nil, errSyntax
}

// str reads a string value (null reads as "").
func (s *scanner) str() (string, error) {
	b, err := s.strBytes()
	return string(b), err
}

// strBytes reads a string value (null reads as empty) without a copy: the result aliases the
// input unless the string has escapes.
func (s *scanner) strBytes() ([]byte, error) {
	switch s.peek() {
	case '"':
		return s.rawString()
	case 'n':
		return nil, s.null()
	}
	return nil, errSyntax
}

func (s *scanner) null() error {
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return nil
	}
	return errSyntax
}

// number reads a number; ok is false for null.
func (s *scanner) number() (f float64, ok bool, err error) {
	if s.peek() == 'n' {
		return 0, false, s.null()
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			s.i++
			continue
		}
		break
	}
	num := s.b[start:s.i]
	// Fast path: a plain integer of up to 15 digits (every exp and nbf in practice) is exact
	// in a float64.
	if len(num) > 0 && len(num) <= 15 && (num[0] != '0' || len(num) == 1) {
		var n int64
		for _, c := range num {
			if c < '0' || c > '9' {
				n = -1
				break
			}
			n = n*10 + int64(c-'0')
		}
		if n >= 0 {
			return float64(n), true, nil
		}
	}
	if !validNumber(num) {
		return 0, false, errSyntax
	}
	f, err = strconv.ParseFloat(string(num), 64)
	if err != nil {
		return 0, false, errSyntax
	}
	return f, true, nil
}

// validNumber reports whether b is a JSON number (RFC 8259 section 6).
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(b)
}

// validScalar reports whether b is a JSON number, true, false or null.
func validScalar(b []byte) bool {
	switch string(b) {
	case "true", "false", "null":
		return true
	}
	return validNumber(b)
}

// skip reads any value.
func (s *scanner) skip() error {
	depth := 0
	for {
		switch c := s.peek(); c {
		case '"':
			if _, err := s.rawString(); err != nil {
				return err
			}
		case '{', '[':
			depth++
			s.i++
			continue
		case '}', ']':
			if depth == 0 {
				return errSyntax
			}
			depth--
			s.i++
		case ',', ':':
			if depth == 0 {
				return errSyntax
			}
			s.i++
			continue
		case 0:
			return errSyntax
		default:
			start := s.i
			for s.i < len(s.b) && s.b[s.i] != ',' && s.b[s.i] != '}' && s.b[s.i] != ']' && s.b[s.i] != ':' &&
				s.b[s.i] != ' ' && s.b[s.i] != '\n' && s.b[s.i] != '\t' && s.b[s.i] != '\r' {
				s.i++
			}
			if !validScalar(s.b[start:s.i]) {
				return errSyntax
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
