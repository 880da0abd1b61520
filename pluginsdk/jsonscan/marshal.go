package jsonscan

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// htmlSafe[c] is true for the ASCII bytes encoding/json writes as they are in a string when it
// escapes HTML (as json.Marshal does): everything from 0x20 up except ", \, <, > and &.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// AppendMarshalString appends s as a JSON string exactly as json.Marshal writes it: " and \
// backslash-escaped; \b, \f, \n, \r, \t as such and other control characters as \u00XX; <, >
// and & as \u003c, \u003e, \u0026; U+2028 and U+2029 as \u2028 and \u2029; each byte of invalid
// UTF-8 as \ufffd. It is checked against encoding/json by FuzzMarshalString.
func AppendMarshalString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendHTMLEscaped appends src, a compact JSON value (as Value returns it), with the escaping
// json.Marshal adds when it writes a json.RawMessage: <, >, & as \u003c, \u003e, \u0026 and
// U+2028, U+2029 as \u2028, \u2029 (they can only occur inside strings, so the value means the
// same). So Value followed by AppendHTMLEscaped gives json.Marshal(json.RawMessage(v)) for any v
// Value accepts; checked against encoding/json by FuzzMarshalRaw.
func AppendHTMLEscaped(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '<', '>', '&':
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			start = i + 1
		case 0xE2:
			if i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
				dst = append(dst, src[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
				start = i + 3
				i += 2
			}
		}
	}
	return append(dst, src[start:]...)
}

// MarshalRaw reads any JSON value and appends it to dst as json.Marshal(json.RawMessage(v))
// writes it: compacted, with AppendHTMLEscaped's escaping. scratch is a reusable buffer for the
// compacted value; MarshalRaw returns it (grown) for the next call.
func (s *Scanner) MarshalRaw(dst, scratch []byte, what string) (out, scratchOut []byte, err error) {
	v, err := s.Value(scratch[:0], what)
	if err != nil {
		return nil, scratch, err
	}
	return AppendHTMLEscaped(dst, v), v, nil
}
