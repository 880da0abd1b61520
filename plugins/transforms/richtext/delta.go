// Package richtext is the rich-text document engine: the ops, snapshots and semantics of the
// npm package rich-text 4.x (Quill Delta, quill-delta 4.2), ported faithfully, down to the byte
// order of the JSON it writes.
//
// An op and a snapshot are Deltas, written {"ops":[...]} (the JSON of a quill-delta Delta; a
// bare array of components is accepted on input). Components are {"insert": string | object,
// "attributes"?: {...}}, {"retain": N, "attributes"?: {...}} and {"delete": N}; lengths count
// UTF-16 code units, an embed (an object insert) counts 1; in a retain, an attribute set to null
// removes it. A snapshot holds inserts only.
package richtext

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// ErrInvalid is wrapped by every error about a malformed op or snapshot, or an op that does not
// fit its document.
var ErrInvalid = errors.New("invalid rich-text op")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// OpKind is the kind of a component.
type OpKind uint8

const (
	Insert OpKind = iota
	Retain
	Delete
)

// inf is the iterator's Infinity.
const inf = math.MaxInt64

// maxLen bounds retain and delete counts (JavaScript's safe integers).
const maxLen = 1<<53 - 1

// Comp is one component of a Delta.
type Comp struct {
	Kind  OpKind
	N     int64    // retain or delete count
	Text  []uint16 // a string insert (never modified in place: shared between ops)
	Embed *Value   // an embed insert (object), or nil
	Attrs *Value   // attributes (a non-empty object), or nil
	// AttrsFirst: "attributes" is written before the insert/retain key (the order quill-delta's
	// iterator builds components in).
	AttrsFirst bool
}

// Len is the component's length (Op.length).
func (c *Comp) Len() int64 {
	switch {
	case c.Kind != Insert:
		return c.N
	case c.Embed != nil:
		return 1
	}
	return int64(len(c.Text))
}

// Op is a Delta: an op, or (inserts only) a document.
type Op []Comp

// ParseOp parses and validates an op.
func ParseOp(b []byte) (Op, error) {
	v, ok := parseJSON(b)
	if !ok {
		return nil, invalidf("not JSON")
	}
	arr := &v
	if v.Kind == Object {
		ops, ok := v.get("ops")
		if !ok || len(v.Obj) != 1 {
			return nil, invalidf(`an op is {"ops": [...]}`)
		}
		arr = ops
	}
	if arr.Kind != Array {
		return nil, invalidf("an op is an array of components")
	}
	op := make(Op, 0, len(arr.Arr))
	for i := range arr.Arr {
		c, err := parseComp(&arr.Arr[i])
		if err != nil {
			return nil, fmt.Errorf("component %d: %w", i, err)
		}
		op = append(op, c)
	}
	return op, nil
}

func parseComp(v *Value) (Comp, error) {
	if v.Kind != Object {
		return Comp{}, invalidf("a component is an object")
	}
	var c Comp
	main, attrsAt, mainAt := "", -1, -1
	for i := range v.Obj {
		m := &v.Obj[i]
		switch m.Key {
		case "insert", "retain", "delete":
			if main != "" {
				return Comp{}, invalidf("a component has one of insert, retain and delete")
			}
			main, mainAt = m.Key, i
		case "attributes":
			if m.Val.Kind != Object || len(m.Val.Obj) == 0 {
				return Comp{}, invalidf("attributes must be a non-empty object")
			}
			c.Attrs, attrsAt = &m.Val, i
		default:
			return Comp{}, invalidf("unknown key %q", m.Key)
		}
	}
	if main == "" {
		return Comp{}, invalidf("a component needs insert, retain or delete")
	}
	val := &v.Obj[mainAt].Val
	switch main {
	case "insert":
		c.Kind = Insert
		switch val.Kind {
		case String:
			if len(val.Str) == 0 {
				return Comp{}, invalidf("empty insert")
			}
			c.Text = val.Str
		case Object:
			c.Embed = val
		default:
			return Comp{}, invalidf("an insert is a string or an embed object")
		}
	default:
		c.Kind = Retain
		if main == "delete" {
			c.Kind = Delete
			if c.Attrs != nil {
				return Comp{}, invalidf("a delete has no attributes")
			}
		}
		if val.Kind != Number || val.Num != math.Trunc(val.Num) || val.Num < 1 || val.Num > maxLen {
			return Comp{}, invalidf("%s must be a positive integer", main)
		}
		c.N = int64(val.Num)
	}
	c.AttrsFirst = c.Attrs != nil && attrsAt < mainAt
	return c, nil
}

// ParseSnapshot parses a document: a Delta of inserts only.
func ParseSnapshot(b []byte) (Op, error) {
	d, err := ParseOp(b)
	if err != nil {
		return nil, err
	}
	for i := range d {
		if d[i].Kind != Insert {
			return nil, invalidf("a document holds inserts only")
		}
	}
	return d, nil
}

// AppendJSON appends the op as JSON.stringify writes the Delta: {"ops":[...]}.
func (op Op) AppendJSON(b []byte) []byte { return op.appendJSON(b, false) }

// AppendCanonical appends the op as AppendJSON does, except that every component writes its
// insert/retain key before "attributes", and the attributes' keys sorted (quill-delta writes
// "attributes" first in components its iterator built, and orders attribute keys as ops
// composed them, so two equal documents reached in different orders can differ in key order;
// this form makes their bytes equal).
func (op Op) AppendCanonical(b []byte) []byte { return op.appendJSON(b, true) }

func (op Op) appendJSON(b []byte, canonical bool) []byte {
	if cap(b)-len(b) < 64 {
		// Grow once for a typical op instead of doubling from nothing (allocations are what
		// a Go guest pays most for).
		b = append(make([]byte, 0, len(b)+16+48*len(op)), b...)
	}
	b = append(b, `{"ops":[`...)
	for i := range op {
		if i > 0 {
			b = append(b, ',')
		}
		b = op[i].appendJSON(b, canonical)
	}
	return append(b, "]}"...)
}

// String is the op's JSON.
func (op Op) String() string { return string(op.AppendJSON(nil)) }

func (c *Comp) appendJSON(b []byte, canonical bool) []byte {
	attrsFirst := c.AttrsFirst && !canonical
	b = append(b, '{')
	if c.Attrs != nil && attrsFirst {
		b = append(b, `"attributes":`...)
		b = c.Attrs.AppendJSON(b)
		b = append(b, ',')
	}
	switch {
	case c.Kind == Retain:
		b = append(b, `"retain":`...)
		b = appendJSNumber(b, float64(c.N))
	case c.Kind == Delete:
		b = append(b, `"delete":`...)
		b = appendJSNumber(b, float64(c.N))
	case c.Embed != nil:
		b = append(b, `"insert":`...)
		b = c.Embed.AppendJSON(b)
	default:
		b = append(b, `"insert":`...)
		b = appendJSString(b, c.Text)
	}
	if c.Attrs != nil && !attrsFirst {
		b = append(b, `,"attributes":`...)
		if canonical {
			sorted := Value{Kind: Object, Obj: slices.SortedFunc(slices.Values(c.Attrs.Obj), func(x, y Member) int { return strings.Compare(x.Key, y.Key) })}
			b = sorted.AppendJSON(b)
		} else {
			b = c.Attrs.AppendJSON(b)
		}
	}
	return append(b, '}')
}

// Length is the Delta's length (the document length of a snapshot).
func (op Op) Length() int64 {
	var n int64
	for i := range op {
		n += op[i].Len()
	}
	return n
}

// BaseLength is the length of the document the op applies to, at least (retains and deletes).
func (op Op) BaseLength() int64 {
	var n int64
	for i := range op {
		if op[i].Kind != Insert {
			n += op[i].N
		}
	}
	return n
}

// iterator is quill-delta's Iterator.
type iterator struct {
	ops    Op
	index  int
	offset int64
}

func (it *iterator) hasNext() bool { return it.peekLength() < inf }

func (it *iterator) peekLength() int64 {
	if it.index < len(it.ops) {
		return it.ops[it.index].Len() - it.offset
	}
	return inf
}

func (it *iterator) peekType() OpKind {
	if it.index < len(it.ops) {
		return it.ops[it.index].Kind
	}
	return Retain
}

// next returns the next up to length units (length 0: all of the current component).
func (it *iterator) next(length int64) Comp {
	if length == 0 {
		length = inf
	}
	if it.index >= len(it.ops) {
		return Comp{Kind: Retain, N: inf}
	}
	op := &it.ops[it.index]
	offset := it.offset
	if opLen := op.Len(); length >= opLen-offset {
		length = opLen - offset
		it.index++
		it.offset = 0
	} else {
		it.offset += length
	}
	if op.Kind == Delete {
		return Comp{Kind: Delete, N: length}
	}
	r := Comp{Kind: op.Kind, Attrs: op.Attrs, AttrsFirst: op.Attrs != nil}
	switch {
	case op.Kind == Retain:
		r.N = length
	case op.Embed != nil:
		r.Embed = op.Embed
	default:
		r.Text = op.Text[offset : offset+length : offset+length]
	}
	return r
}

func (it *iterator) rest() Op {
	if !it.hasNext() {
		return nil
	}
	if it.offset == 0 {
		return it.ops[it.index:]
	}
	index, offset := it.index, it.offset
	n := it.next(0)
	r := append(Op{n}, it.ops[it.index:]...)
	it.index, it.offset = index, offset
	return r
}

// push is Delta#push: appends c, merging it into the last component where quill-delta does.
func push(ops Op, c Comp) Op {
	index := len(ops)
	if index > 0 {
		last := &ops[index-1]
		if c.Kind == Delete && last.Kind == Delete {
			ops[index-1] = Comp{Kind: Delete, N: last.N + c.N}
			return ops
		}
		// An insert goes before a delete at the same position.
		if last.Kind == Delete && c.Kind == Insert {
			index--
			if index == 0 {
				return append(Op{c}, ops...)
			}
			last = &ops[index-1]
		}
		if attrsEqual(c.Attrs, last.Attrs) {
			if c.Kind == Insert && c.Embed == nil && last.Kind == Insert && last.Embed == nil {
				t := make([]uint16, 0, len(last.Text)+len(c.Text))
				t = append(append(t, last.Text...), c.Text...)
				ops[index-1] = Comp{Kind: Insert, Text: t, Attrs: c.Attrs}
				return ops
			}
			if c.Kind == Retain && last.Kind == Retain {
				ops[index-1] = Comp{Kind: Retain, N: last.N + c.N, Attrs: c.Attrs}
				return ops
			}
		}
	}
	if index == len(ops) {
		return append(ops, c)
	}
	ops = append(ops, Comp{})
	copy(ops[index+1:], ops[index:])
	ops[index] = c
	return ops
}

func attrsEqual(a, b *Value) bool {
	if a == nil || b == nil {
		return a == b
	}
	return equal(a, b)
}

// compEqual is lodash.isEqual on two components.
func compEqual(a, b *Comp) bool {
	if a.Kind != b.Kind || !attrsEqual(a.Attrs, b.Attrs) {
		return false
	}
	switch {
	case a.Kind != Insert:
		return a.N == b.N
	case a.Embed != nil || b.Embed != nil:
		return a.Embed != nil && b.Embed != nil && equal(a.Embed, b.Embed)
	}
	return slicesEqual(a.Text, b.Text)
}

// chop drops a final retain without attributes.
func chop(ops Op) Op {
	if n := len(ops); n > 0 && ops[n-1].Kind == Retain && ops[n-1].Attrs == nil {
		return ops[:n-1]
	}
	return ops
}

// composeAttrs is AttributeMap.compose.
func composeAttrs(a, b *Value, keepNull bool) *Value {
	out := Value{Kind: Object}
	if b != nil {
		for _, m := range b.Obj {
			if keepNull || m.Val.Kind != Null {
				out.Obj = append(out.Obj, m)
			}
		}
	}
	if a != nil {
		for _, m := range a.Obj {
			if b != nil {
				if _, ok := b.get(m.Key); ok {
					continue
				}
			}
			out.Obj = append(out.Obj, m)
		}
	}
	if len(out.Obj) == 0 {
		return nil
	}
	return &out
}

// transformAttrs is AttributeMap.transform.
func transformAttrs(a, b *Value, priority bool) *Value {
	if a == nil {
		return b
	}
	if b == nil {
		return nil
	}
	if !priority {
		return b
	}
	out := Value{Kind: Object}
	for _, m := range b.Obj {
		if _, ok := a.get(m.Key); !ok {
			out.Obj = append(out.Obj, m)
		}
	}
	if len(out.Obj) == 0 {
		return nil
	}
	return &out
}

// Compose is Delta#compose: one op with the effect of a then b.
func Compose(a, b Op) Op {
	ti, oi := iterator{ops: a}, iterator{ops: b}
	var ops Op
	if len(b) > 0 && b[0].Kind == Retain && b[0].Attrs == nil {
		firstLeft := b[0].N
		for ti.peekType() == Insert && ti.peekLength() <= firstLeft {
			firstLeft -= ti.peekLength()
			ops = append(ops, ti.next(0))
		}
		if b[0].N-firstLeft > 0 {
			oi.next(b[0].N - firstLeft)
		}
	}
	for ti.hasNext() || oi.hasNext() {
		switch {
		case oi.peekType() == Insert:
			ops = push(ops, oi.next(0))
		case ti.peekType() == Delete:
			ops = push(ops, ti.next(0))
		default:
			l := min(ti.peekLength(), oi.peekLength())
			t, o := ti.next(l), oi.next(l)
			if o.Kind == Retain {
				var c Comp
				if t.Kind == Retain {
					c = Comp{Kind: Retain, N: l}
				} else {
					c = Comp{Kind: Insert, Text: t.Text, Embed: t.Embed}
				}
				c.Attrs = composeAttrs(t.Attrs, o.Attrs, t.Kind == Retain)
				ops = push(ops, c)
				// The rest of b is one retain: the rest of a follows as it is.
				if !oi.hasNext() && compEqual(&ops[len(ops)-1], &c) {
					rest := ti.rest()
					if len(rest) > 0 {
						ops = push(ops, rest[0])
						ops = append(ops, rest[1:]...)
					}
					return chop(ops)
				}
			} else if o.Kind == Delete && t.Kind == Retain {
				ops = push(ops, o)
			}
		}
	}
	return chop(ops)
}

// Side says whose insert goes first when two ops insert at one position.
type Side uint8

const (
	// Left is rich-text's 'left': type.transform(op, other, 'left') gives other priority (the
	// op's insert ends up after the other's).
	Left Side = iota
	// Right is rich-text's 'right': the op's insert goes first.
	Right
)

// Transform is rich-text's type.transform(op, other, side), i.e. quill-delta's
// other.transform(op, side === 'left').
func Transform(op, other Op, side Side) Op {
	priority := side == Left
	ti, oi := iterator{ops: other}, iterator{ops: op}
	var ops Op
	retain := func(n int64, attrs *Value) {
		if n > 0 {
			ops = push(ops, Comp{Kind: Retain, N: n, Attrs: attrs})
		}
	}
	for ti.hasNext() || oi.hasNext() {
		switch {
		case ti.peekType() == Insert && (priority || oi.peekType() != Insert):
			t := ti.next(0)
			retain(t.Len(), nil)
		case oi.peekType() == Insert:
			ops = push(ops, oi.next(0))
		default:
			l := min(ti.peekLength(), oi.peekLength())
			t, o := ti.next(l), oi.next(l)
			switch {
			case t.Kind == Delete:
			case o.Kind == Delete:
				ops = push(ops, o)
			default:
				retain(l, transformAttrs(t.Attrs, o.Attrs, priority))
			}
		}
	}
	return chop(ops)
}

// Apply is rich-text's type.apply: doc composed with op. Unlike the JavaScript, it refuses an op
// that retains or deletes past the end of the document (ErrInvalid).
func Apply(doc, op Op) (Op, error) {
	if n, m := op.BaseLength(), doc.Length(); n > m {
		return nil, invalidf("the op spans %d units, the document has %d", n, m)
	}
	return Compose(doc, op), nil
}
