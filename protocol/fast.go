package protocol

import (
	"encoding/json"
	"strconv"
)

// decodeFast decodes the common flat messages (submit, ack, op, awareness, ping...) without
// reflection. It reports false for anything it does not handle exactly like encoding/json
// (escaped strings, arrays of ops or peers, unknown shapes, numbers out of range), and the
// caller then falls back to encoding/json. Strings and raw values are copied out of b.
func decodeFast(b []byte, m *Message) bool {
	s := scanner{b: b}
	s.ws()
	if !s.eat('{') {
		return false
	}
	s.ws()
	if s.eat('}') {
		s.ws()
		return s.i == len(s.b)
	}
	for {
		s.ws()
		key, ok := s.plainString()
		if !ok {
			return false
		}
		s.ws()
		if !s.eat(':') {
			return false
		}
		s.ws()
		if !s.field(key, m) {
			return false
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if !s.eat('}') {
			return false
		}
		s.ws()
		return s.i == len(s.b)
	}
}

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

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plainString reads a string without escapes or control characters; it aliases b.
func (s *scanner) plainString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			out := s.b[start:s.i]
			s.i++
			return out, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false // escapes and non-ASCII (UTF-8 validation) go the slow way
		}
		s.i++
	}
	return nil, false
}

func (s *scanner) integer() (int64, bool) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if s.i == digits || s.i-digits > 18 || (s.b[digits] == '0' && s.i-digits > 1) {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	return n, err == nil
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// raw skips one JSON value and returns a validated copy of it.
func (s *scanner) raw() ([]byte, bool) {
	start := s.i
	if _, ok := s.rawAlias(); !ok {
		return nil, false
	}
	return s.finishRaw(start)
}

func (s *scanner) finishRaw(start int) ([]byte, bool) {
	v := s.b[start:s.i]
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\n' || v[len(v)-1] == '\t' || v[len(v)-1] == '\r') {
		v = v[:len(v)-1]
	}
	if len(v) == 0 || !json.Valid(v) {
		return nil, false
	}
	return append([]byte(nil), v...), true
}

func (s *scanner) str() (string, bool) {
	v, ok := s.plainString()
	return string(v), ok
}

func (s *scanner) uint() (uint64, bool) {
	n, ok := s.integer()
	return uint64(n), ok && n >= 0
}

func (s *scanner) boolean() (bool, bool) {
	if s.literal("true") {
		return true, true
	}
	return false, s.literal("false")
}

// field decodes one member into m; false sends the whole message to encoding/json.
func (s *scanner) field(key []byte, m *Message) bool {
	var ok bool
	switch string(key) {
	case "type":
		m.Type, ok = s.str()
	case "doc":
		m.Doc, ok = s.str()
	case "ref":
		m.Ref, ok = s.uint()
	case "revision", "baseRevision":
		var n int64
		if n, ok = s.integer(); ok {
			if key[0] == 'r' {
				m.Revision = &n
			} else {
				m.BaseRevision = &n
			}
		}
	case "op", "state", "snapshot":
		var v []byte
		if s.literal("null") {
			v, ok = []byte("null"), true
		} else {
			v, ok = s.raw()
		}
		if ok {
			switch key[0] {
			case 'o':
				m.Op = v
			case 's':
				if key[1] == 't' {
					m.State = v
				} else {
					m.Snapshot = v
				}
			}
		}
	case "clientId":
		m.ClientID, ok = s.str()
	case "seq":
		m.Seq, ok = s.uint()
	case "peer":
		m.Peer, ok = s.str()
	case "peerId":
		m.PeerID, ok = s.str()
	case "docType":
		m.DocType, ok = s.str()
	case "access":
		m.Access, ok = s.str()
	case "code":
		var c string
		c, ok = s.str()
		m.Code = Code(c)
	case "message":
		m.Message, ok = s.str()
	case "token":
		m.Token, ok = s.str()
	case "protocol":
		var n int64
		n, ok = s.integer()
		m.Protocol = int(n)
	case "duplicate":
		m.Duplicate, ok = s.boolean()
	case "closed":
		m.Closed, ok = s.boolean()
	case "reload":
		m.Reload, ok = s.boolean()
	}
	return ok
}

// DecodeMessage decodes one message, taking a reflection-free path for the common flat shapes.
func DecodeMessage(b []byte, m *Message) error {
	if decodeFast(b, m) {
		return nil
	}
	*m = Message{}
	return json.Unmarshal(b, m)
}

// SplitBatch returns the elements of a JSON array frame (aliasing frame), or false when frame
// is not a well-formed array.
func SplitBatch(frame []byte) ([][]byte, bool) {
	s := scanner{b: frame}
	s.ws()
	if !s.eat('[') {
		return nil, false
	}
	var parts [][]byte
	s.ws()
	if s.eat(']') {
		s.ws()
		return parts, s.i == len(s.b)
	}
	for {
		s.ws()
		start := s.i
		if _, ok := s.rawAlias(); !ok {
			return nil, false
		}
		parts = append(parts, frame[start:s.i])
		s.ws()
		if s.eat(',') {
			continue
		}
		if !s.eat(']') {
			return nil, false
		}
		s.ws()
		return parts, s.i == len(s.b)
	}
}

// rawAlias skips one value (without validating it) and reports whether it ended cleanly.
func (s *scanner) rawAlias() ([]byte, bool) {
	start := s.i
	depth := 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch c {
		case '"':
			s.i++
			for s.i < len(s.b) && s.b[s.i] != '"' {
				if s.b[s.i] == '\\' {
					s.i++
				}
				s.i++
			}
			if s.i >= len(s.b) {
				return nil, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.b[start:s.i], s.i > start
			}
			depth--
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return s.b[start:s.i], s.i > start
			}
		}
		s.i++
		if depth == 0 && (c == '}' || c == ']' || c == '"') {
			return s.b[start:s.i], true
		}
	}
	return s.b[start:s.i], s.i > start
}
