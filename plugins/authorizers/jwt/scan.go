package jwt

import (
	"encoding/json"
	"errors"
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
func (s *scanner) rawString() ([]byte, error) {
	start := s.i + 1
	esc := false
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '\\':
			esc = true
			j++
		case c == '"':
			s.i = j + 1
			if !esc {
				return s.b[start:j], nil
			}
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
	switch s.peek() {
	case '"':
		b, err := s.rawString()
		return string(b), err
	case 'n':
		return "", s.null()
	}
	return "", errSyntax
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
	f, err = strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil || start == s.i || s.b[start] == '+' {
		return 0, false, errSyntax
	}
	return f, true, nil
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
			if !json.Valid(s.b[start:s.i]) {
				return errSyntax
			}
		}
		if depth == 0 {
			return nil
		}
	}
}
