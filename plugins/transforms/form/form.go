// Package form is the "form" document engine: a flat map of fields, each a last-writer-wins
// register stamped (ts, peer). It is a state-based CRDT: applying an op is a per-field join
// (the higher stamp wins), so apply is commutative, associative and idempotent and the
// transform is the identity. Deletes are kept as tombstones so a late, older set cannot
// resurrect a deleted field. See README.md for the op and snapshot formats.
package form

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/opstream/opstream/pluginsdk/jsonscan"
)

// Limits.
const (
	MaxFields     = 1000    // fields (tombstones included) in a document, and in one op
	MaxNameBytes  = 256     // bytes of a field name
	MaxPeerBytes  = 128     // bytes of a peer id
	MaxValueBytes = 1 << 16 // bytes of one field's value (compact JSON)
	MaxOpBytes    = 1 << 22 // bytes of one op
)

// ErrInvalid is wrapped by every error about malformed input.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Register is one field's state: a value or a tombstone, with its stamp.
type Register struct {
	Value json.RawMessage // canonical compact JSON; nil for a tombstone
	Del   bool
	TS    int64
	Peer  string
}

// Less reports whether a is older than b in the total order used for last-writer-wins:
// (ts, peer) lexicographically; on an identical stamp (only possible with a misbehaving
// client) a tombstone beats a value and a greater value (bytewise) beats a smaller one, so
// the order stays total and apply stays commutative.
func Less(a, b Register) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	if a.Peer != b.Peer {
		return a.Peer < b.Peer
	}
	if a.Del != b.Del {
		return b.Del
	}
	return bytes.Compare(a.Value, b.Value) < 0
}

// Op is a parsed op: sets and deletes sharing one stamp.
type Op struct {
	Set  map[string]json.RawMessage // canonical values
	Del  []string
	TS   int64
	Peer string
}

// Canonical returns v as canonical JSON (compact, as encoding/json writes a RawMessage), or an
// error if v is not one valid JSON value.
func Canonical(v []byte) (json.RawMessage, error) {
	if !utf8.Valid(v) {
		return nil, invalid("value is not valid UTF-8")
	}
	if !json.Valid(v) {
		return nil, invalid("value is not valid JSON")
	}
	b, err := json.Marshal(json.RawMessage(v))
	if err != nil {
		return nil, invalid("value: %v", err)
	}
	return b, nil
}

func checkName(n string) error {
	if n == "" {
		return invalid("empty field name")
	}
	if len(n) > MaxNameBytes {
		return invalid("field name longer than %d bytes", MaxNameBytes)
	}
	return nil
}

func checkStamp(ts int64, peer string) error {
	if ts < 0 {
		return invalid("negative ts")
	}
	if peer == "" {
		return invalid("empty peer")
	}
	if len(peer) > MaxPeerBytes {
		return invalid("peer longer than %d bytes", MaxPeerBytes)
	}
	return nil
}

// object decodes b as a JSON object whose keys must all be in allowed.
func object(b []byte, what string, allowed ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, invalid("%s is not a JSON object", what)
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return nil, invalid("%s: unknown key %q", what, k)
		}
	}
	return m, nil
}

func stamp(m map[string]json.RawMessage, what string) (int64, string, error) {
	var ts int64
	var peer string
	t, ok := m["ts"]
	if !ok || json.Unmarshal(t, &ts) != nil || bytes.Equal(t, []byte("null")) {
		return 0, "", invalid("%s: ts must be an integer", what)
	}
	p, ok := m["peer"]
	if !ok || json.Unmarshal(p, &peer) != nil || bytes.Equal(p, []byte("null")) {
		return 0, "", invalid("%s: peer must be a string", what)
	}
	return ts, peer, checkStamp(ts, peer)
}

// ParseOp parses and validates an op.
func ParseOp(b []byte) (Op, error) {
	if len(b) > MaxOpBytes {
		return Op{}, invalid("op longer than %d bytes", MaxOpBytes)
	}
	if !utf8.Valid(b) {
		return Op{}, invalid("op is not valid UTF-8")
	}
	if op, ok := parseOpFast(b); ok {
		return op, nil
	}
	return parseOpSlow(b)
}

// errSlow makes parseOpFast give up: the input is left to parseOpSlow.
var errSlow = errors.New("form: not on the fast path")

// parseOpFast parses a valid op with jsonscan, as encoding/json would (encoding/json in a WASM
// guest costs ~20x native). It reports ok only for an op it read completely and that passes
// every check of parseOpSlow, with the same result; anything else (an invalid op, a repeated
// key, a value nested deeper than jsonscan.MaxDepth, ...) is left to parseOpSlow, so errors
// and edge cases stay exactly those of encoding/json.
func parseOpFast(b []byte) (op Op, ok bool) {
	s := jsonscan.New(b)
	fs := jsonscan.Fields{What: "op"}
	var scratch []byte
	err := s.Object("op", func(key string) error {
		var err error
		switch key {
		case "set":
			if err = fs.Once(0, key); err != nil {
				return err
			}
			op.Set = map[string]json.RawMessage{}
			return s.Object("set", func(name string) error {
				if _, dup := op.Set[name]; dup {
					return errSlow
				}
				var v []byte
				if v, scratch, err = s.MarshalRaw(nil, scratch, "set"); err == nil {
					op.Set[name] = v
				}
				return err
			})
		case "del":
			if err = fs.Once(1, key); err != nil {
				return err
			}
			if s.Peek() != '[' {
				return errSlow
			}
			op.Del = []string{}
			return s.Array("del", func() error {
				if s.Peek() != '"' {
					return errSlow
				}
				k, err := s.Str("del")
				op.Del = append(op.Del, k)
				return err
			})
		case "ts":
			if err = fs.Once(2, key); err == nil {
				op.TS, err = s.Int("op", key)
			}
		case "peer":
			if err = fs.Once(3, key); err != nil {
				return err
			}
			if s.Peek() != '"' {
				return errSlow
			}
			op.Peer, err = s.Str("op")
		default:
			return errSlow
		}
		return err
	})
	if err != nil || s.End("op") != nil || !fs.Has(2) || !fs.Has(3) || checkOp(&op) != nil {
		return Op{}, false
	}
	return op, true
}

// checkOp runs parseOpSlow's checks on a decoded op (the error is parseOpSlow's only when one
// check fails).
func checkOp(op *Op) error {
	if err := checkStamp(op.TS, op.Peer); err != nil {
		return err
	}
	if len(op.Set) > MaxFields || len(op.Del)+len(op.Set) > MaxFields {
		return invalid("more than %d fields in one op", MaxFields)
	}
	for k, v := range op.Set {
		if err := checkName(k); err != nil {
			return err
		}
		if len(v) > MaxValueBytes {
			return invalid("field %q: value longer than %d bytes", k, MaxValueBytes)
		}
	}
	for _, k := range op.Del {
		if err := checkName(k); err != nil {
			return err
		}
		if _, ok := op.Set[k]; ok {
			return invalid("field %q is both set and deleted", k)
		}
	}
	if op.Set == nil && op.Del == nil {
		return invalid("op has neither set nor del")
	}
	return nil
}

// parseOpSlow is ParseOp with encoding/json, after the size and UTF-8 checks.
func parseOpSlow(b []byte) (Op, error) {
	m, err := object(b, "op", "set", "del", "ts", "peer")
	if err != nil {
		return Op{}, err
	}
	var op Op
	if op.TS, op.Peer, err = stamp(m, "op"); err != nil {
		return Op{}, err
	}
	if s, ok := m["set"]; ok {
		var set map[string]json.RawMessage
		if json.Unmarshal(s, &set) != nil || set == nil {
			return Op{}, invalid("set must be an object")
		}
		if len(set) > MaxFields {
			return Op{}, invalid("more than %d fields in one op", MaxFields)
		}
		op.Set = make(map[string]json.RawMessage, len(set))
		for k, v := range set {
			if err := checkName(k); err != nil {
				return Op{}, err
			}
			c, err := Canonical(v)
			if err != nil {
				return Op{}, fmt.Errorf("field %q: %w", k, err)
			}
			if len(c) > MaxValueBytes {
				return Op{}, invalid("field %q: value longer than %d bytes", k, MaxValueBytes)
			}
			op.Set[k] = c
		}
	}
	if d, ok := m["del"]; ok {
		if json.Unmarshal(d, &op.Del) != nil || op.Del == nil {
			return Op{}, invalid("del must be an array of field names")
		}
		if len(op.Del)+len(op.Set) > MaxFields {
			return Op{}, invalid("more than %d fields in one op", MaxFields)
		}
		for _, k := range op.Del {
			if err := checkName(k); err != nil {
				return Op{}, err
			}
			if _, ok := op.Set[k]; ok {
				return Op{}, invalid("field %q is both set and deleted", k)
			}
		}
	}
	if op.Set == nil && op.Del == nil {
		return Op{}, invalid("op has neither set nor del")
	}
	return op, nil
}

// Doc is a live form document.
type Doc struct {
	Fields map[string]Register
}

// NewDoc returns an empty document.
func NewDoc() *Doc { return &Doc{Fields: map[string]Register{}} }

// Empty is the snapshot of an empty document.
const Empty = `{"fields":{}}`

// Apply joins op into d. It fails (leaving d unchanged) only when d would hold more than
// MaxFields fields: that check depends on the document, so it is the one place where order
// matters (the server's sequencer decides it once for everyone).
func (d *Doc) Apply(op Op) error {
	added := 0
	for k := range op.Set {
		if _, ok := d.Fields[k]; !ok {
			added++
		}
	}
	for _, k := range op.Del {
		if _, ok := d.Fields[k]; !ok {
			added++
		}
	}
	if len(d.Fields)+added > MaxFields {
		return invalid("the document would hold more than %d fields", MaxFields)
	}
	for k, v := range op.Set {
		d.put(k, Register{Value: v, TS: op.TS, Peer: op.Peer})
	}
	for _, k := range op.Del {
		d.put(k, Register{Del: true, TS: op.TS, Peer: op.Peer})
	}
	return nil
}

func (d *Doc) put(k string, r Register) {
	if old, ok := d.Fields[k]; !ok || Less(old, r) {
		d.Fields[k] = r
	}
}

// Values returns the live fields (tombstones left out).
func (d *Doc) Values() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(d.Fields))
	for k, r := range d.Fields {
		if !r.Del {
			out[k] = r.Value
		}
	}
	return out
}

// AppendSnapshot appends the snapshot: {"fields": {name: {"v"|"del", "ts", "peer"}}}, fields
// sorted by name, so equal documents have byte-identical snapshots.
func (d *Doc) AppendSnapshot(dst []byte) []byte {
	dst = append(dst, `{"fields":{`...)
	for i, k := range slices.Sorted(maps.Keys(d.Fields)) {
		if i > 0 {
			dst = append(dst, ',')
		}
		r := d.Fields[k]
		dst = appendString(dst, k)
		dst = append(dst, ':', '{')
		if r.Del {
			dst = append(dst, `"del":true`...)
		} else {
			dst = append(dst, `"v":`...)
			dst = append(dst, r.Value...)
		}
		dst = append(dst, `,"ts":`...)
		dst = strconv.AppendInt(dst, r.TS, 10)
		dst = append(dst, `,"peer":`...)
		dst = appendString(dst, r.Peer)
		dst = append(dst, '}')
	}
	return append(dst, "}}"...)
}

// appendString appends s as json.Marshal writes it.
func appendString(dst []byte, s string) []byte { return jsonscan.AppendMarshalString(dst, s) }

// ParseSnapshot loads a snapshot.
func ParseSnapshot(b []byte) (*Doc, error) {
	if !utf8.Valid(b) {
		return nil, invalid("snapshot is not valid UTF-8")
	}
	m, err := object(b, "snapshot", "fields")
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if f, ok := m["fields"]; !ok || json.Unmarshal(f, &fields) != nil || fields == nil {
		return nil, invalid("snapshot: fields must be an object")
	}
	if len(fields) > MaxFields {
		return nil, invalid("snapshot: more than %d fields", MaxFields)
	}
	d := NewDoc()
	for k, raw := range fields {
		if err := checkName(k); err != nil {
			return nil, err
		}
		what := fmt.Sprintf("field %q", k)
		f, err := object(raw, what, "v", "del", "ts", "peer")
		if err != nil {
			return nil, err
		}
		var r Register
		if r.TS, r.Peer, err = stamp(f, what); err != nil {
			return nil, err
		}
		v, hasV := f["v"]
		del, hasDel := f["del"]
		switch {
		case hasDel && !hasV && string(del) == "true":
			r.Del = true
		case hasV && !hasDel:
			if r.Value, err = Canonical(v); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
		default:
			return nil, invalid("%s: needs exactly one of v and del:true", what)
		}
		d.Fields[k] = r
	}
	return d, nil
}
