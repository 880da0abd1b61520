package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Limits bound what a peer may send. Zero fields take the defaults in DefaultLimits.
type Limits struct {
	// MaxOpBytes bounds an op's JSON; zero means 1 MiB.
	MaxOpBytes int
	// MaxAwarenessBytes bounds an awareness state; zero means 64 KiB.
	MaxAwarenessBytes int
	// MaxDocIDLen bounds a document id in characters; zero means 256.
	MaxDocIDLen int
	// MaxDocTypeLen bounds a document type name in characters; zero means 128.
	MaxDocTypeLen int
	// MaxClientIDLen bounds a client id in characters; zero means 128.
	MaxClientIDLen int
	// MaxMessagesPerFrame bounds how many messages one frame may batch; zero means 1024.
	MaxMessagesPerFrame int
}

// DefaultLimits are the limits in force when none are configured.
var DefaultLimits = Limits{
	MaxOpBytes:          1 << 20,
	MaxAwarenessBytes:   64 << 10,
	MaxDocIDLen:         256,
	MaxDocTypeLen:       128,
	MaxClientIDLen:      128,
	MaxMessagesPerFrame: 1024,
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.MaxOpBytes > 0 {
		d.MaxOpBytes = l.MaxOpBytes
	}
	if l.MaxAwarenessBytes > 0 {
		d.MaxAwarenessBytes = l.MaxAwarenessBytes
	}
	if l.MaxDocIDLen > 0 {
		d.MaxDocIDLen = l.MaxDocIDLen
	}
	if l.MaxDocTypeLen > 0 {
		d.MaxDocTypeLen = l.MaxDocTypeLen
	}
	if l.MaxClientIDLen > 0 {
		d.MaxClientIDLen = l.MaxClientIDLen
	}
	if l.MaxMessagesPerFrame > 0 {
		d.MaxMessagesPerFrame = l.MaxMessagesPerFrame
	}
	return d
}

// MaxMessageBytes is the largest frame that is decoded under l: one op at its limit plus room
// for the envelope. A larger frame is refused with TooLarge without being decoded.
func (l Limits) MaxMessageBytes() int {
	l = l.WithDefaults()
	return l.MaxOpBytes + 64<<10
}

// MaxFrameBytes is the largest frame a connection reads at all: larger frames close it (status
// 1009). Frames between MaxMessageBytes and this get a TooLarge error and the connection stays
// usable.
func (l Limits) MaxFrameBytes() int64 {
	return max(int64(l.MaxMessageBytes())*2, 16<<20)
}

// Decoded is one message of a frame, or the reason it could not be decoded. Ref is set when the
// bad message still carried a readable ref, so the error reply can name the request.
type Decoded struct {
	Msg Message
	Err *Error
}

// DecodeFrame splits a frame into its messages and decodes and validates each. A frame that is
// not JSON at all gives one Decoded with an InvalidMessage error; a bad message inside an array
// does not spoil the others.
func DecodeFrame(frame []byte, lim Limits) []Decoded {
	lim = lim.WithDefaults()
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		parts, ok := SplitBatch(trimmed)
		if !ok {
			var probe []json.RawMessage
			err := json.Unmarshal(trimmed, &probe)
			if err == nil {
				err = fmt.Errorf("malformed array")
			}
			return []Decoded{{Err: Errorf(CodeInvalidMessage, "frame is not valid JSON: %s", jsonErr(err))}}
		}
		if len(parts) > lim.MaxMessagesPerFrame {
			return []Decoded{{Err: Errorf(CodeTooLarge, "frame batches %d messages, the limit is %d", len(parts), lim.MaxMessagesPerFrame)}}
		}
		out := make([]Decoded, len(parts))
		for i, p := range parts {
			out[i] = decodeOne(p, lim)
		}
		return out
	}
	return []Decoded{decodeOne(trimmed, lim)}
}

func decodeOne(b []byte, lim Limits) Decoded {
	var m Message
	if err := DecodeMessage(b, &m); err != nil {
		d := Decoded{Err: Errorf(CodeInvalidMessage, "message is not valid: %s", jsonErr(err))}
		// Salvage the ref so the reply can be matched to the request.
		var probe struct {
			Ref uint64 `json:"ref"`
			Doc string `json:"doc"`
		}
		if json.Unmarshal(b, &probe) == nil {
			d.Msg.Ref, d.Msg.Doc = probe.Ref, probe.Doc
		}
		return d
	}
	if err := Validate(&m, lim); err != nil {
		return Decoded{Msg: m, Err: err}
	}
	return Decoded{Msg: m}
}

func jsonErr(err error) string {
	switch e := err.(type) {
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q must be %s, not %s", e.Field, e.Type.String(), e.Value)
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d: %v", e.Offset, e)
	}
	return err.Error()
}

// Validate checks a client message's required fields and limits.
func Validate(m *Message, lim Limits) *Error {
	lim = lim.WithDefaults()
	needDoc := func() *Error {
		if m.Doc == "" {
			return Errorf(CodeInvalidMessage, "%s needs a doc", m.Type)
		}
		return ValidateDocID(m.Doc, lim)
	}
	switch m.Type {
	case TypeJoin:
		if err := needDoc(); err != nil {
			return err
		}
		if m.Protocol != Version {
			return Errorf(CodeUnsupportedProtocol, "protocol %d is not supported; this server speaks %d", m.Protocol, Version)
		}
		if err := ValidateDocType(m.DocType, lim); err != nil {
			return err
		}
		if m.Revision != nil && *m.Revision < 0 {
			return Errorf(CodeInvalidMessage, "revision must not be negative")
		}
	case TypeSubmit:
		if err := needDoc(); err != nil {
			return err
		}
		return ValidateSubmit(m.BaseRevision, m.Op, m.ClientID, m.Seq, lim)
	case TypeAwareness:
		if err := needDoc(); err != nil {
			return err
		}
		if len(m.State) > lim.MaxAwarenessBytes {
			return Errorf(CodeTooLarge, "awareness state is %d bytes, the limit is %d", len(m.State), lim.MaxAwarenessBytes)
		}
	case TypeLeave:
		return needDoc()
	case TypePing:
	case TypeAuth:
		if m.Token == "" {
			return Errorf(CodeInvalidMessage, "auth needs a token")
		}
	case "":
		return Errorf(CodeInvalidMessage, "message has no type")
	default:
		return Errorf(CodeInvalidMessage, "unknown message type %q", m.Type)
	}
	return nil
}

// ValidateSubmit checks the fields of an op submission (WebSocket or HTTP).
func ValidateSubmit(base *int64, op json.RawMessage, clientID string, seq uint64, lim Limits) *Error {
	lim = lim.WithDefaults()
	if base == nil {
		return Errorf(CodeInvalidMessage, "submit needs a baseRevision")
	}
	if *base < 0 {
		return Errorf(CodeInvalidMessage, "baseRevision must not be negative")
	}
	if len(op) == 0 || string(op) == "null" {
		return Errorf(CodeInvalidMessage, "submit needs an op")
	}
	if len(op) > lim.MaxOpBytes {
		return Errorf(CodeTooLarge, "op is %d bytes, the limit is %d", len(op), lim.MaxOpBytes)
	}
	if clientID == "" {
		return Errorf(CodeInvalidMessage, "submit needs a clientId")
	}
	if utf8.RuneCountInString(clientID) > lim.MaxClientIDLen {
		return Errorf(CodeInvalidMessage, "clientId is longer than %d characters", lim.MaxClientIDLen)
	}
	if seq == 0 {
		return Errorf(CodeInvalidMessage, "submit needs a seq of 1 or more")
	}
	return nil
}

// ValidateDocID checks a document id: non-empty, valid UTF-8, no control characters, at most
// MaxDocIDLen characters.
func ValidateDocID(id string, lim Limits) *Error {
	lim = lim.WithDefaults()
	if id == "" {
		return Errorf(CodeInvalidMessage, "document id is empty")
	}
	if !utf8.ValidString(id) {
		return Errorf(CodeInvalidMessage, "document id is not valid UTF-8")
	}
	n := 0
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return Errorf(CodeInvalidMessage, "document id contains a control character")
		}
		n++
	}
	if n > lim.MaxDocIDLen {
		return Errorf(CodeInvalidMessage, "document id is longer than %d characters", lim.MaxDocIDLen)
	}
	return nil
}

// ValidateDocType checks a document type name.
func ValidateDocType(t string, lim Limits) *Error {
	lim = lim.WithDefaults()
	if t == "" {
		return Errorf(CodeInvalidMessage, "docType is empty")
	}
	if utf8.RuneCountInString(t) > lim.MaxDocTypeLen {
		return Errorf(CodeInvalidMessage, "docType is longer than %d characters", lim.MaxDocTypeLen)
	}
	return nil
}
