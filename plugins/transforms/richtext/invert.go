package richtext

// Invert is quill-delta's op.invert(base): the op that undoes op applied to base (a document:
// inserts only). An insert becomes a delete, a delete re-inserts the deleted slice of base, and
// a retain with attributes restores base's attributes over its range (AttributeMap.invert).
func Invert(op, base Op) Op {
	var inverted Op
	var baseIndex int64
	for i := range op {
		c := &op[i]
		switch {
		case c.Kind == Insert:
			inverted = push(inverted, Comp{Kind: Delete, N: c.Len()})
		case c.Kind == Retain && c.Attrs == nil:
			inverted = push(inverted, Comp{Kind: Retain, N: c.N})
			baseIndex += c.N
		default: // a delete, or a retain with attributes
			for _, b := range slice(base, baseIndex, baseIndex+c.N) {
				if c.Kind == Delete {
					inverted = push(inverted, b)
					continue
				}
				r := Comp{Kind: Retain, N: b.Len(), Attrs: invertAttrs(c.Attrs, b.Attrs)}
				if r.N > 0 {
					inverted = push(inverted, r)
				}
			}
			baseIndex += c.N
		}
	}
	return chop(inverted)
}

// slice is Delta#slice(start, end): the components of d between start and end, as quill-delta's
// iterator cuts them.
func slice(d Op, start, end int64) Op {
	var ops Op
	it := iterator{ops: d}
	for index := int64(0); index < end && it.hasNext(); {
		var c Comp
		if index < start {
			c = it.next(start - index)
		} else {
			c = it.next(end - index)
			ops = append(ops, c)
		}
		index += c.Len()
	}
	return ops
}

// invertAttrs is AttributeMap.invert(attr, base): the attributes that restore base over a
// range attr was applied to. Values compare with JavaScript's !==: objects and arrays are
// never identical (they are distinct parsed values).
func invertAttrs(attr, base *Value) *Value {
	out := Value{Kind: Object}
	if base != nil {
		for _, m := range base.Obj {
			if a, ok := attr.get(m.Key); ok && !identical(&m.Val, a) {
				out.Obj = append(out.Obj, m)
			}
		}
	}
	for _, m := range attr.Obj {
		if base == nil {
			out.Obj = append(out.Obj, Member{Key: m.Key, Val: Value{Kind: Null}})
		} else if _, ok := base.get(m.Key); !ok {
			out.Obj = append(out.Obj, Member{Key: m.Key, Val: Value{Kind: Null}})
		}
	}
	if len(out.Obj) == 0 {
		return nil
	}
	return &out
}

// identical is JavaScript's === on two parsed JSON values.
func identical(a, b *Value) bool {
	if a.Kind != b.Kind || a.Kind == Array || a.Kind == Object {
		return false
	}
	return equal(a, b)
}
