package table

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Limits. With them the largest snapshot stays under the host's 16 MiB output bound
// (TestLimitsBoundTheSnapshot builds it).
const (
	MaxRows            = 10000   // row ids with any state (tombstones included)
	MaxColumns         = 1000    // column ids with any state (tombstones included)
	MaxCells           = 20000   // cells holding a value
	MaxIDBytes         = 64      // bytes of a row or column id
	MaxKeyBytes        = 64      // bytes of an ordering key
	MaxPeerBytes       = 128     // bytes of a peer id
	MaxValueBytes      = 1 << 16 // bytes of one cell value (compact JSON)
	MaxTotalValueBytes = 4 << 20 // bytes of all cell values of a document
	MaxOpBytes         = 1 << 17 // bytes of one op
)

// ErrInvalid is wrapped by every error about malformed input or an op the document refuses.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Kind is what an op does.
type Kind uint8

// Op kinds.
const (
	InsertRow    Kind = iota + 1 // add a row at Key (again: move it)
	InsertColumn                 // add a column at Key (again: move it)
	DeleteRow                    // tombstone a row and drop its cells
	DeleteColumn                 // tombstone a column and drop its cells
	SetCell                      // set the cell (Row, Col) to Value
)

var kindNames = [...]string{InsertRow: "insert_row", InsertColumn: "insert_column", DeleteRow: "delete_row", DeleteColumn: "delete_column", SetCell: "set_cell"}

// String returns the kind's name as written in ops.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Stamp orders ops for last-writer-wins: by TS, then Peer bytewise.
type Stamp struct {
	TS   int64
	Peer string
}

// Compare returns -1, 0 or +1 as s sorts before, with or after o.
func (s Stamp) Compare(o Stamp) int {
	if c := cmp.Compare(s.TS, o.TS); c != 0 {
		return c
	}
	return cmp.Compare(s.Peer, o.Peer)
}

// Op is a parsed, validated op.
type Op struct {
	Kind  Kind
	ID    string          // InsertRow, InsertColumn, DeleteRow, DeleteColumn
	Key   string          // InsertRow, InsertColumn
	Row   string          // SetCell
	Col   string          // SetCell
	Value json.RawMessage // SetCell: canonical compact JSON
	Stamp
}

// Append appends the op's canonical JSON encoding: keys in a fixed order, values compact.
func (o *Op) Append(dst []byte) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, o.Kind.String()...)
	dst = append(dst, '"')
	if o.Kind == SetCell {
		dst = append(dst, `,"row":`...)
		dst = appendString(dst, o.Row)
		dst = append(dst, `,"col":`...)
		dst = appendString(dst, o.Col)
		dst = append(dst, `,"value":`...)
		dst = append(dst, o.Value...)
	} else {
		dst = append(dst, `,"id":`...)
		dst = appendString(dst, o.ID)
		if o.Kind == InsertRow || o.Kind == InsertColumn {
			dst = append(dst, `,"key":`...)
			dst = appendString(dst, o.Key)
		}
	}
	return appendStamp(dst, o.Stamp)
}

func appendStamp(dst []byte, s Stamp) []byte {
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, s.TS, 10)
	dst = append(dst, `,"peer":`...)
	dst = appendString(dst, s.Peer)
	return append(dst, '}')
}

// appendString appends s as a JSON string. Every string it is given passed str, which refuses
// control characters, quotes and backslashes, so s is written as is.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// plain reports whether s needs no escaping in JSON: no control characters, quotes or
// backslashes (so a snapshot's size is a sum of its strings' lengths).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Fields of an op, numbered for fields.once.
const (
	fOp = iota
	fID
	fKey
	fRow
	fCol
	fValue
	fTS
	fPeer
)

var opFields = [...]string{fOp: "op", fID: "id", fKey: "key", fRow: "row", fCol: "col", fValue: "value", fTS: "ts", fPeer: "peer"}

// allowed lists the fields each kind takes besides op, ts and peer.
var allowed = [...]uint32{
	InsertRow:    1<<fID | 1<<fKey,
	InsertColumn: 1<<fID | 1<<fKey,
	DeleteRow:    1 << fID,
	DeleteColumn: 1 << fID,
	SetCell:      1<<fRow | 1<<fCol | 1<<fValue,
}

// ParseOp parses and validates an op (see README.md for the format).
func ParseOp(b []byte) (Op, error) {
	if len(b) > MaxOpBytes {
		return Op{}, invalid("op longer than %d bytes", MaxOpBytes)
	}
	s := scanner{b: b}
	var op Op
	fs := fields{what: "op"}
	var kind string
	err := s.object("op", func(k string) error {
		var err error
		switch k {
		case "op":
			if err = fs.once(fOp, k); err == nil {
				kind, err = s.name("op", k, 16)
			}
		case "id":
			if err = fs.once(fID, k); err == nil {
				op.ID, err = s.name("op", k, MaxIDBytes)
			}
		case "key":
			if err = fs.once(fKey, k); err == nil {
				op.Key, err = s.name("op", k, MaxKeyBytes)
			}
		case "row":
			if err = fs.once(fRow, k); err == nil {
				op.Row, err = s.name("op", k, MaxIDBytes)
			}
		case "col":
			if err = fs.once(fCol, k); err == nil {
				op.Col, err = s.name("op", k, MaxIDBytes)
			}
		case "value":
			if err = fs.once(fValue, k); err == nil {
				op.Value, err = s.payload("op", k, MaxValueBytes)
			}
		case "ts":
			if err = fs.once(fTS, k); err == nil {
				op.TS, err = s.int("op", k)
			}
		case "peer":
			if err = fs.once(fPeer, k); err == nil {
				op.Peer, err = s.name("op", k, MaxPeerBytes)
			}
		default:
			err = invalid("op: unknown key %q", k)
		}
		return err
	})
	if err == nil {
		err = s.end("op")
	}
	if err != nil {
		return Op{}, err
	}
	for k, name := range kindNames {
		if name != "" && name == kind {
			op.Kind = Kind(k)
		}
	}
	switch {
	case !fs.has(fOp):
		return Op{}, invalid("op: no op")
	case op.Kind == 0:
		return Op{}, invalid("op: op must be one of insert_row, insert_column, delete_row, delete_column, set_cell")
	case !fs.has(fTS):
		return Op{}, invalid("op: ts must be an integer")
	case !fs.has(fPeer):
		return Op{}, invalid("op: no peer")
	}
	want := allowed[op.Kind]
	for f, name := range opFields {
		bit := uint32(1) << f
		if f == fOp || f == fTS || f == fPeer || fs.seen&bit == want&bit {
			continue
		}
		if want&bit != 0 {
			return Op{}, invalid("op: %s needs %s", op.Kind, name)
		}
		return Op{}, invalid("op: %s takes no %s", op.Kind, name)
	}
	return op, nil
}
