package table

import (
	"cmp"
	"encoding/json"
	"strconv"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
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
var ErrInvalid = jsonscan.ErrInvalid

func invalid(format string, args ...any) error { return jsonscan.Invalid(format, args...) }

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
		dst = jsonscan.AppendString(dst, o.Row)
		dst = append(dst, `,"col":`...)
		dst = jsonscan.AppendString(dst, o.Col)
		dst = append(dst, `,"value":`...)
		dst = append(dst, o.Value...)
	} else {
		dst = append(dst, `,"id":`...)
		dst = jsonscan.AppendString(dst, o.ID)
		if o.Kind == InsertRow || o.Kind == InsertColumn {
			dst = append(dst, `,"key":`...)
			dst = jsonscan.AppendString(dst, o.Key)
		}
	}
	return appendStamp(dst, o.Stamp)
}

func appendStamp(dst []byte, s Stamp) []byte {
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, s.TS, 10)
	dst = append(dst, `,"peer":`...)
	dst = jsonscan.AppendString(dst, s.Peer)
	return append(dst, '}')
}

// Fields of an op, numbered for jsonscan.Fields.Once.
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
	s := scanner{Scanner: jsonscan.New(b)}
	var op Op
	fs := jsonscan.Fields{What: "op"}
	var kind string
	err := s.Object("op", func(k string) error {
		var err error
		switch k {
		case "op":
			if err = fs.Once(fOp, k); err == nil {
				kind, err = s.Name("op", k, 16)
			}
		case "id":
			if err = fs.Once(fID, k); err == nil {
				op.ID, err = s.Name("op", k, MaxIDBytes)
			}
		case "key":
			if err = fs.Once(fKey, k); err == nil {
				op.Key, err = s.Name("op", k, MaxKeyBytes)
			}
		case "row":
			if err = fs.Once(fRow, k); err == nil {
				op.Row, err = s.Name("op", k, MaxIDBytes)
			}
		case "col":
			if err = fs.Once(fCol, k); err == nil {
				op.Col, err = s.Name("op", k, MaxIDBytes)
			}
		case "value":
			if err = fs.Once(fValue, k); err == nil {
				op.Value, err = s.Payload("op", k, MaxValueBytes)
			}
		case "ts":
			if err = fs.Once(fTS, k); err == nil {
				op.TS, err = s.Int("op", k)
			}
		case "peer":
			if err = fs.Once(fPeer, k); err == nil {
				op.Peer, err = s.Name("op", k, MaxPeerBytes)
			}
		default:
			err = invalid("op: unknown key %q", k)
		}
		return err
	})
	if err == nil {
		err = s.End("op")
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
	case !fs.Has(fOp):
		return Op{}, invalid("op: no op")
	case op.Kind == 0:
		return Op{}, invalid("op: op must be one of insert_row, insert_column, delete_row, delete_column, set_cell")
	case !fs.Has(fTS):
		return Op{}, invalid("op: ts must be an integer")
	case !fs.Has(fPeer):
		return Op{}, invalid("op: no peer")
	}
	want := allowed[op.Kind]
	for f, name := range opFields {
		bit := uint32(1) << f
		if f == fOp || f == fTS || f == fPeer || fs.Seen()&bit == want&bit {
			continue
		}
		if want&bit != 0 {
			return Op{}, invalid("op: %s needs %s", op.Kind, name)
		}
		return Op{}, invalid("op: %s takes no %s", op.Kind, name)
	}
	return op, nil
}
