// Package jsoncrdt is the "json" document engine: a JSON object edited by last-writer-wins
// sets and deletes at paths of object keys. It is a state-based CRDT: the state is one
// register per path holding the newest op at that path (stamp (ts, peer)); applying an op is
// a per-path join, so apply is commutative, associative and idempotent and the transform is
// the identity. The materialized JSON value is derived from the registers alone (see
// Materialize), so equal register sets give byte-identical snapshots. See README.md.
package jsoncrdt

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
	MaxRegisters  = 10000   // registers (tombstones included) in a document
	MaxDepth      = 32      // keys in a path
	MaxKeyBytes   = 256     // bytes of one key
	MaxPeerBytes  = 128     // bytes of a peer id
	MaxValueBytes = 1 << 20 // bytes of one set's value (compact JSON)
	MaxOpBytes    = 1 << 21 // bytes of one op
)

// ErrInvalid is wrapped by every error about malformed input.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Register is the newest op at one path: a set (Value) or a delete (Del), with its stamp.
// An Op is a Register too.
type Register struct {
	Path  []string
	Value json.RawMessage // canonical compact JSON; nil for a delete
	Del   bool
	TS    int64
	Peer  string
	key   string // canonical JSON of Path
}

// Op is a parsed op.
type Op = Register

// Less is the total order of last-writer-wins: (ts, peer) lexicographically; on an identical
// stamp (only from a misbehaving client) a delete beats a set, then the greater value
// (bytewise), then the greater path, so the order stays total and apply commutative.
func Less(a, b *Register) bool {
	if a.TS != b.TS {
		return a.TS < b.TS
	}
	if a.Peer != b.Peer {
		return a.Peer < b.Peer
	}
	if a.Del != b.Del {
		return b.Del
	}
	if c := bytes.Compare(a.Value, b.Value); c != 0 {
		return c < 0
	}
	return a.key < b.key
}

// canonical returns v as canonical compact JSON.
func canonical(v []byte) (json.RawMessage, error) {
	if !utf8.Valid(v) || !json.Valid(v) {
		return nil, invalid("value is not valid JSON")
	}
	b, err := json.Marshal(json.RawMessage(v))
	if err != nil {
		return nil, invalid("value: %v", err)
	}
	return b, nil
}

func parsePath(b []byte) ([]string, string, error) {
	var p []string
	if json.Unmarshal(b, &p) != nil || p == nil {
		return nil, "", invalid("path must be an array of strings")
	}
	if len(p) == 0 {
		return nil, "", invalid("empty path: the root is always an object")
	}
	if len(p) > MaxDepth {
		return nil, "", invalid("path deeper than %d", MaxDepth)
	}
	for _, k := range p {
		if len(k) > MaxKeyBytes {
			return nil, "", invalid("key longer than %d bytes", MaxKeyBytes)
		}
	}
	key, _ := json.Marshal(p)
	return p, string(key), nil
}

func object(b []byte, what string, allowed ...string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if !utf8.Valid(b) || json.Unmarshal(b, &m) != nil || m == nil {
		return nil, invalid("%s is not a JSON object", what)
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return nil, invalid("%s: unknown key %q", what, k)
		}
	}
	return m, nil
}

func parseStamp(m map[string]json.RawMessage, r *Register, what string) error {
	t, ok := m["ts"]
	if !ok || bytes.Equal(t, []byte("null")) || json.Unmarshal(t, &r.TS) != nil {
		return invalid("%s: ts must be an integer", what)
	}
	p, ok := m["peer"]
	if !ok || bytes.Equal(p, []byte("null")) || json.Unmarshal(p, &r.Peer) != nil {
		return invalid("%s: peer must be a string", what)
	}
	switch {
	case r.TS < 0:
		return invalid("%s: negative ts", what)
	case r.Peer == "":
		return invalid("%s: empty peer", what)
	case len(r.Peer) > MaxPeerBytes:
		return invalid("%s: peer longer than %d bytes", what, MaxPeerBytes)
	}
	return nil
}

// ParseOp parses and validates an op: {"set": [path, value], "ts", "peer"} or
// {"del": path, "ts", "peer"}.
func ParseOp(b []byte) (Op, error) {
	if len(b) > MaxOpBytes {
		return Op{}, invalid("op longer than %d bytes", MaxOpBytes)
	}
	if op, ok := parseOpFast(b); ok {
		return op, nil
	}
	return parseOpSlow(b)
}

// errSlow makes parseOpFast give up: the input is left to parseOpSlow.
var errSlow = errors.New("jsoncrdt: not on the fast path")

// parseOpFast parses a valid op with jsonscan, as encoding/json would (encoding/json in a WASM
// guest costs ~20x native). It reports ok only for an op it read completely and that passes
// every check of parseOpSlow, with the same result; anything else (an invalid op, a repeated
// key, a value nested deeper than jsonscan.MaxDepth, ...) is left to parseOpSlow, so errors
// and edge cases stay exactly those of encoding/json.
func parseOpFast(b []byte) (op Op, ok bool) {
	if !utf8.Valid(b) {
		return Op{}, false
	}
	s := jsonscan.New(b)
	fs := jsonscan.Fields{What: "op"}
	path := func() error {
		if s.Peek() != '[' {
			return errSlow
		}
		op.Path = []string{}
		return s.Array("path", func() error {
			if s.Peek() != '"' {
				return errSlow
			}
			k, err := s.Str("path")
			op.Path = append(op.Path, k)
			return err
		})
	}
	err := s.Object("op", func(key string) error {
		var err error
		switch key {
		case "set":
			if err = fs.Once(0, key); err != nil {
				return err
			}
			if !s.Eat('[') {
				return errSlow
			}
			if err = path(); err != nil {
				return err
			}
			if !s.Eat(',') {
				return errSlow
			}
			if op.Value, _, err = s.MarshalRaw(nil, nil, "set"); err != nil {
				return err
			}
			if !s.Eat(']') {
				return errSlow
			}
		case "del":
			if err = fs.Once(1, key); err == nil {
				err = path()
				op.Del = true
			}
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
	if err != nil || s.End("op") != nil || fs.Seen() != 1<<0|1<<2|1<<3 && fs.Seen() != 1<<1|1<<2|1<<3 {
		return Op{}, false
	}
	switch {
	case op.Peer == "" || len(op.Peer) > MaxPeerBytes:
		return Op{}, false
	case len(op.Path) == 0 || len(op.Path) > MaxDepth:
		return Op{}, false
	case len(op.Value) > MaxValueBytes:
		return Op{}, false
	}
	key := make([]byte, 0, 64)
	key = append(key, '[')
	for i, k := range op.Path {
		if len(k) > MaxKeyBytes {
			return Op{}, false
		}
		if i > 0 {
			key = append(key, ',')
		}
		key = jsonscan.AppendMarshalString(key, k)
	}
	op.key = string(append(key, ']'))
	return op, true
}

// parseOpSlow is ParseOp with encoding/json, after the size check.
func parseOpSlow(b []byte) (Op, error) {
	m, err := object(b, "op", "set", "del", "ts", "peer")
	if err != nil {
		return Op{}, err
	}
	var op Op
	if err := parseStamp(m, &op, "op"); err != nil {
		return Op{}, err
	}
	set, hasSet := m["set"]
	del, hasDel := m["del"]
	switch {
	case hasSet && !hasDel:
		var pair []json.RawMessage
		if json.Unmarshal(set, &pair) != nil || len(pair) != 2 {
			return Op{}, invalid("set must be [path, value]")
		}
		if op.Path, op.key, err = parsePath(pair[0]); err != nil {
			return Op{}, err
		}
		if op.Value, err = canonical(pair[1]); err != nil {
			return Op{}, err
		}
		if len(op.Value) > MaxValueBytes {
			return Op{}, invalid("value longer than %d bytes", MaxValueBytes)
		}
	case hasDel && !hasSet:
		if op.Path, op.key, err = parsePath(del); err != nil {
			return Op{}, err
		}
		op.Del = true
	default:
		return Op{}, invalid("op needs exactly one of set and del")
	}
	return op, nil
}

// Doc is a live json document: its registers by path.
type Doc struct {
	regs map[string]*Register
}

// NewDoc returns an empty document.
func NewDoc() *Doc { return &Doc{regs: map[string]*Register{}} }

// Empty is the snapshot of an empty document.
const Empty = `{"registers":[],"value":{}}`

// Apply joins op into d: it becomes the register at its path unless that register is newer.
// It fails (leaving d unchanged) only when d would hold more than MaxRegisters registers: that
// check depends on the document, the one place where order matters (the server's sequencer
// decides it once for everyone).
func (d *Doc) Apply(op Op) error {
	old, ok := d.regs[op.key]
	if !ok && len(d.regs) >= MaxRegisters {
		return invalid("the document would hold more than %d registers", MaxRegisters)
	}
	if !ok || Less(old, &op) {
		r := op
		d.regs[op.key] = &r
	}
	return nil
}

// Materialize returns the document's value. It replays the registers, oldest first by Less:
// a set writes its value at its path, making each missing (or non-object) ancestor an empty
// object; a delete removes the key at its path if it is there. So a set under a deleted parent
// recreates the parent when it is newer than the delete, and is dropped (the delete removes
// the whole subtree) when it is older; a newer set of an ancestor replaces the subtree, and a
// newer set below a set object merges into it. Arrays are values: paths address object keys.
// Earlier ops at a path are forgotten once a newer one arrives, so a parent made only for an
// overwritten set does not outlive it.
func (d *Doc) Materialize() map[string]any {
	regs := slices.Collect(maps.Values(d.regs))
	slices.SortFunc(regs, func(a, b *Register) int {
		if Less(a, b) {
			return -1
		}
		if Less(b, a) {
			return 1
		}
		return 0
	})
	root := map[string]any{}
	for _, r := range regs {
		m := root
		last := len(r.Path) - 1
		for _, k := range r.Path[:last] {
			next, ok := m[k].(map[string]any)
			if !ok {
				if r.Del {
					m = nil
					break
				}
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		switch {
		case m == nil:
		case r.Del:
			delete(m, r.Path[last])
		default:
			dec := json.NewDecoder(bytes.NewReader(r.Value))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				panic(fmt.Sprintf("jsoncrdt: stored value %s does not decode: %v", r.Value, err))
			}
			m[r.Path[last]] = v
		}
	}
	return root
}

// AppendSnapshot appends the snapshot: {"registers": [...], "value": materialized}, registers
// sorted by path (key by key), so equal documents have byte-identical snapshots.
func (d *Doc) AppendSnapshot(dst []byte) []byte {
	dst = append(dst, `{"registers":[`...)
	regs := slices.SortedFunc(maps.Values(d.regs), func(a, b *Register) int { return slices.Compare(a.Path, b.Path) })
	for i, r := range regs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"path":`...)
		dst = append(dst, r.key...)
		if r.Del {
			dst = append(dst, `,"del":true`...)
		} else {
			dst = append(dst, `,"v":`...)
			dst = append(dst, r.Value...)
		}
		dst = append(dst, `,"ts":`...)
		dst = strconv.AppendInt(dst, r.TS, 10)
		dst = append(dst, `,"peer":`...)
		dst = jsonscan.AppendMarshalString(dst, r.Peer)
		dst = append(dst, '}')
	}
	v, err := json.Marshal(d.Materialize())
	if err != nil {
		panic(fmt.Sprintf("jsoncrdt: materialized value does not encode: %v", err))
	}
	dst = append(dst, `],"value":`...)
	dst = append(dst, v...)
	return append(dst, '}')
}

// ParseSnapshot loads a snapshot. Its "value" is derived, so it is ignored and recomputed.
func ParseSnapshot(b []byte) (*Doc, error) {
	m, err := object(b, "snapshot", "registers", "value")
	if err != nil {
		return nil, err
	}
	var regs []json.RawMessage
	if r, ok := m["registers"]; !ok || json.Unmarshal(r, &regs) != nil || regs == nil {
		return nil, invalid("snapshot: registers must be an array")
	}
	if len(regs) > MaxRegisters {
		return nil, invalid("snapshot: more than %d registers", MaxRegisters)
	}
	d := NewDoc()
	for i, raw := range regs {
		what := fmt.Sprintf("register %d", i)
		f, err := object(raw, what, "path", "v", "del", "ts", "peer")
		if err != nil {
			return nil, err
		}
		r := &Register{}
		if err := parseStamp(f, r, what); err != nil {
			return nil, err
		}
		p, ok := f["path"]
		if !ok {
			return nil, invalid("%s: no path", what)
		}
		if r.Path, r.key, err = parsePath(p); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if _, dup := d.regs[r.key]; dup {
			return nil, invalid("%s: path %s appears twice", what, r.key)
		}
		v, hasV := f["v"]
		del, hasDel := f["del"]
		switch {
		case hasDel && !hasV && string(del) == "true":
			r.Del = true
		case hasV && !hasDel:
			if r.Value, err = canonical(v); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
		default:
			return nil, invalid("%s: needs exactly one of v and del:true", what)
		}
		d.regs[r.key] = r
	}
	return d, nil
}
