package tree

import (
	"bytes"
	"cmp"
	"encoding/json"
	"strconv"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// Limits. With them the largest snapshot stays under the host's 16 MiB output bound
// (TestLimitsBoundTheSnapshot builds it).
const (
	MaxNodes             = 10000   // node ids with any state in a document (deleted ones included)
	MaxLog               = 5000    // position ops kept in the op log; older ones fold into the state
	MaxIDBytes           = 64      // bytes of a node id
	MaxKeyBytes          = 64      // bytes of an ordering key
	MaxPeerBytes         = 128     // bytes of a peer id
	MaxPayloadBytes      = 1 << 16 // bytes of one payload (compact JSON)
	MaxTotalPayloadBytes = 4 << 20 // bytes of all payloads of a document
	MaxOpBytes           = 1 << 17 // bytes of one op
)

// Root is the id of the implicit root node: always there, never created, moved, deleted or
// updated; ops name it only as a parent.
const Root = "root"

// ErrInvalid is wrapped by every error about malformed input or an op the document refuses.
var ErrInvalid = jsonscan.ErrInvalid

func invalid(format string, args ...any) error { return jsonscan.Invalid(format, args...) }

// Kind is what an op does.
type Kind uint8

// Op kinds.
const (
	Create Kind = iota + 1 // place a node (creating it if new) under Parent at Key, optionally set its payload
	Move                   // move an existing node under Parent at Key
	Delete                 // put a node (and so its subtree) in the trash
	Update                 // set a node's payload
)

var kindNames = [...]string{Create: "create", Move: "move", Delete: "delete", Update: "update"}

// String returns the kind's name as written in ops.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Stamp orders ops: by TS, then Peer bytewise. TS should be a Lamport or hybrid logical clock
// greater than every stamp the peer has seen, so an op sorts after the ops it depends on.
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
	Kind    Kind
	ID      string
	Parent  string          // Create, Move
	Key     string          // Create, Move
	Payload json.RawMessage // Create (optional), Update: canonical compact JSON
	Stamp
}

// Less is the total order of ops in the log: by stamp, then (identical stamps only come from a
// misbehaving client) by canonical encoding.
func Less(a, b *Op) bool { return compareOps(a, b) < 0 }

// compareOps compares a and b in the log's order. Encoding is only needed on identical stamps.
func compareOps(a, b *Op) int {
	if c := a.Stamp.Compare(b.Stamp); c != 0 {
		return c
	}
	return bytes.Compare(a.Append(nil), b.Append(nil))
}

// Append appends the op's canonical JSON encoding: keys in a fixed order, values compact.
func (o *Op) Append(dst []byte) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, o.Kind.String()...)
	dst = append(dst, `","id":`...)
	dst = jsonscan.AppendString(dst, o.ID)
	if o.Kind == Create || o.Kind == Move {
		dst = append(dst, `,"parent":`...)
		dst = jsonscan.AppendString(dst, o.Parent)
		dst = append(dst, `,"key":`...)
		dst = jsonscan.AppendString(dst, o.Key)
	}
	if o.Payload != nil {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, o.Payload...)
	}
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, o.TS, 10)
	dst = append(dst, `,"peer":`...)
	dst = jsonscan.AppendString(dst, o.Peer)
	return append(dst, '}')
}

// Fields of an op, numbered for jsonscan.Fields.Once.
const (
	fOp = iota
	fID
	fParent
	fKey
	fPayload
	fTS
	fPeer
)

// ParseOp parses and validates an op (see README.md for the format).
func ParseOp(b []byte) (Op, error) {
	if len(b) > MaxOpBytes {
		return Op{}, invalid("op longer than %d bytes", MaxOpBytes)
	}
	s := scanner{Scanner: jsonscan.New(b)}
	op, err := s.op("op")
	if err != nil {
		return Op{}, err
	}
	return op, s.End("op")
}

// op reads and validates an op.
func (s *scanner) op(what string) (Op, error) {
	var op Op
	fs := jsonscan.Fields{What: what}
	var kind string
	err := s.Object(what, func(k string) error {
		var err error
		switch k {
		case "op":
			if err = fs.Once(fOp, k); err == nil {
				kind, err = s.Name(what, k, 16)
			}
		case "id":
			if err = fs.Once(fID, k); err == nil {
				op.ID, err = s.Name(what, k, MaxIDBytes)
			}
		case "parent":
			if err = fs.Once(fParent, k); err == nil {
				op.Parent, err = s.Name(what, k, MaxIDBytes)
			}
		case "key":
			if err = fs.Once(fKey, k); err == nil {
				op.Key, err = s.Name(what, k, MaxKeyBytes)
			}
		case "payload":
			if err = fs.Once(fPayload, k); err == nil {
				op.Payload, err = s.Payload(what, k, MaxPayloadBytes)
			}
		case "ts":
			if err = fs.Once(fTS, k); err == nil {
				op.TS, err = s.Int(what, k)
			}
		case "peer":
			if err = fs.Once(fPeer, k); err == nil {
				op.Peer, err = s.Name(what, k, MaxPeerBytes)
			}
		default:
			err = invalid("%s: unknown key %q", what, k)
		}
		return err
	})
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
		return Op{}, invalid("%s: no op", what)
	case op.Kind == 0:
		return Op{}, invalid("%s: op must be one of create, move, delete, update", what)
	case !fs.Has(fTS):
		return Op{}, invalid("%s: ts must be an integer", what)
	case !fs.Has(fPeer):
		return Op{}, invalid("%s: no peer", what)
	case !fs.Has(fID):
		return Op{}, invalid("%s: no id", what)
	case op.ID == Root:
		return Op{}, invalid("%s: the root cannot be the target of an op", what)
	}
	switch op.Kind {
	case Create, Move:
		switch {
		case !fs.Has(fParent) || !fs.Has(fKey):
			return Op{}, invalid("%s: %s needs a parent and a key", what, op.Kind)
		case op.Parent == op.ID:
			return Op{}, invalid("%s: a node cannot be its own parent", what)
		case op.Kind == Move && fs.Has(fPayload):
			return Op{}, invalid("%s: move takes no payload", what)
		}
	case Delete, Update:
		switch {
		case fs.Has(fParent) || fs.Has(fKey):
			return Op{}, invalid("%s: %s takes no parent or key", what, op.Kind)
		case op.Kind == Delete && fs.Has(fPayload):
			return Op{}, invalid("%s: delete takes no payload", what)
		case op.Kind == Update && !fs.Has(fPayload):
			return Op{}, invalid("%s: update needs a payload", what)
		}
	}
	return op, nil
}
