package text

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// ErrInvalid is wrapped by every error about an invalid op or snapshot, or an op that does not
// fit its document. Callers branch on it with errors.Is.
var ErrInvalid = errors.New("invalid op")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Kind is the kind of an op component.
type Kind uint8

// Component kinds.
const (
	// Skip keeps N characters.
	Skip Kind = iota + 1
	// Insert inserts S (N code points).
	Insert
	// Delete removes N characters; S, when not empty, is the deleted text ({"d":"str"}).
	Delete
)

// Component is one part of an op. N is a length in code points: the skip count, the length of
// an insert, or the number of characters deleted. S is the inserted text, or for a delete the
// deleted text when the op carries it (empty for {"d":N}). Build components with SkipN,
// InsertText, DeleteN and DeleteText so N and S agree.
type Component struct {
	Kind Kind
	N    int
	S    string
}

// Op is a text operation: a sequence of components.
type Op []Component

// Side says which of two inserts at the same position goes first in Transform.
type Side uint8

const (
	// Left: the transformed op's insert goes first (ot-text-unicode "left").
	Left Side = iota
	// Right: the other op's insert goes first (ot-text-unicode "right").
	Right
)

// String returns "left" or "right".
func (s Side) String() string {
	if s == Left {
		return "left"
	}
	return "right"
}

// SkipN returns a component skipping n characters.
func SkipN(n int) Component { return Component{Kind: Skip, N: n} }

// InsertText returns a component inserting s.
func InsertText(s string) Component {
	return Component{Kind: Insert, N: utf8.RuneCountInString(s), S: s}
}

// DeleteN returns a component deleting n characters ({"d":n}).
func DeleteN(n int) Component { return Component{Kind: Delete, N: n} }

// DeleteText returns a component deleting the characters of s ({"d":"s"}).
func DeleteText(s string) Component {
	return Component{Kind: Delete, N: utf8.RuneCountInString(s), S: s}
}

// Check reports whether op is well formed, as ot-text-unicode's checkOp: every component
// non-empty, no two adjacent skips, no trailing skip. It also checks that each component's N
// matches its text.
func Check(op Op) error {
	for i, c := range op {
		switch c.Kind {
		case Skip:
			if c.N <= 0 {
				return invalidf("component %d: skip components must be > 0", i)
			}
			if i > 0 && op[i-1].Kind == Skip {
				return invalidf("component %d: adjacent skip components should be combined", i)
			}
		case Insert:
			if c.S == "" {
				return invalidf("component %d: inserts cannot be empty", i)
			}
			if c.N != utf8.RuneCountInString(c.S) || !utf8.ValidString(c.S) {
				return invalidf("component %d: insert length %d does not match its text", i, c.N)
			}
		case Delete:
			if c.N <= 0 {
				return invalidf("component %d: deletes must not be empty", i)
			}
			if c.S != "" && (c.N != utf8.RuneCountInString(c.S) || !utf8.ValidString(c.S)) {
				return invalidf("component %d: delete length %d does not match its text", i, c.N)
			}
		default:
			return invalidf("component %d: unknown kind %d", i, c.Kind)
		}
	}
	if len(op) > 0 && op[len(op)-1].Kind == Skip {
		return invalidf("op has a trailing skip")
	}
	return nil
}

// appendComponent appends c to op, merging it into the last component when both are of the
// same kind and dropping empty components: ot-text-unicode's makeAppend. Two deletes merge into
// a delete with text only when both carry text.
func appendComponent(op Op, c Component) Op {
	if c.N == 0 {
		return op
	}
	if len(op) == 0 || op[len(op)-1].Kind != c.Kind {
		return append(op, c)
	}
	last := &op[len(op)-1]
	switch c.Kind {
	case Delete:
		if last.S != "" && c.S != "" {
			last.S += c.S
		} else {
			last.S = ""
		}
	case Insert:
		last.S += c.S
	}
	last.N += c.N
	return op
}

// trim drops a trailing skip (there is at most one after appendComponent).
func trim(op Op) Op {
	if len(op) > 0 && op[len(op)-1].Kind == Skip {
		op = op[:len(op)-1]
	}
	return op
}

// Normalize returns op in normal form, as ot-text-unicode's normalize: no empty components,
// adjacent components of one kind merged, no trailing skip. op is not modified.
func Normalize(op Op) Op {
	out := make(Op, 0, len(op))
	for _, c := range op {
		out = appendComponent(out, c)
	}
	return trim(out)
}

// Len returns how many characters of the document op reads (its skips and deletes): the
// shortest document op applies to.
func (op Op) Len() int {
	n := 0
	for _, c := range op {
		if c.Kind != Insert {
			n += c.N
		}
	}
	return n
}

// AppendJSON appends op to dst as JSON, written exactly as JavaScript's JSON.stringify writes it.
func (op Op) AppendJSON(dst []byte) []byte {
	dst = append(dst, '[')
	for i, c := range op {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch c.Kind {
		case Skip:
			dst = strconv.AppendInt(dst, int64(c.N), 10)
		case Insert:
			dst = appendJSONString(dst, c.S)
		case Delete:
			dst = append(dst, `{"d":`...)
			if c.S != "" {
				dst = appendJSONString(dst, c.S)
			} else {
				dst = strconv.AppendInt(dst, int64(c.N), 10)
			}
			dst = append(dst, '}')
		}
	}
	return append(dst, ']')
}

// MarshalJSON implements json.Marshaler.
func (op Op) MarshalJSON() ([]byte, error) { return op.AppendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler with ParseOp.
func (op *Op) UnmarshalJSON(b []byte) error {
	o, err := ParseOp(b)
	if err != nil {
		return err
	}
	*op = o
	return nil
}

// String returns op as JSON.
func (op Op) String() string { return string(op.AppendJSON(nil)) }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string escaped as JSON.stringify does: '"', '\\' and
// control characters only. s must be valid UTF-8 (ops and documents always are).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONStringBody(dst, s)
	return append(dst, '"')
}

func appendJSONStringBody[S ~string | ~[]byte](dst []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, c)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// appendJSONRuns is appendJSONStringBody for long text (a snapshot's chunks): it copies each run
// that needs no escaping in one append, and finds the end of a long run 32, then 8 bytes per
// step (jsonscan.Special8, as jsonscan.StringRun does, but without a call per escape). A byte
// loop costs several times more per byte in a WASM guest. Short runs (text dense with escapes)
// are cheaper bytewise, so each run's first 8 bytes are looked at one by one. Ops keep the
// simple loop: their strings are mostly a few bytes.
func appendJSONRuns(dst, s []byte) []byte {
	start, i := 0, 0
	for i < len(s) {
		end := min(i+8, len(s))
		for i < end && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' {
			i++
		}
		if i == end && i < len(s) { // a long run
			for i+32 <= len(s) {
				m := jsonscan.Special8(binary.LittleEndian.Uint64(s[i:])) |
					jsonscan.Special8(binary.LittleEndian.Uint64(s[i+8:])) |
					jsonscan.Special8(binary.LittleEndian.Uint64(s[i+16:])) |
					jsonscan.Special8(binary.LittleEndian.Uint64(s[i+24:]))
				if m != 0 {
					break
				}
				i += 32
			}
			for i+8 <= len(s) {
				if m := jsonscan.Special8(binary.LittleEndian.Uint64(s[i:])); m != 0 {
					i += bits.TrailingZeros64(m) >> 3 // s[i] needs escaping: the loop below stops at once
					break
				}
				i += 8
			}
			for i < len(s) && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' {
				i++
			}
		}
		if i == len(s) {
			break
		}
		c := s[i]
		dst = append(dst, s[start:i]...)
		if e := shortEscape[c]; e != 0 {
			dst = append(dst, '\\', e)
		} else {
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// shortEscape is the letter of each byte's two-character escape; 0 for the other control
// characters (escaped as \u00XX) and for bytes that need no escaping.
var shortEscape = [256]byte{'"': '"', '\\': '\\', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't'}

// appendEscape appends the escape of c: '"', '\\' or a control character.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}
