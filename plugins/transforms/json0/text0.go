package json0

import "slices"

// jsError is panicked inside the port where ot-json0 throws; the entry points recover it.
type jsError struct{ err error }

func throw(format string, args ...any) { panic(jsError{invalidf(format, args...)}) }

func catch(err *error) {
	if r := recover(); r != nil {
		e, ok := r.(jsError)
		if !ok {
			panic(r)
		}
		*err = e.err
	}
}

func inject(s []uint16, pos int, ins []uint16) []uint16 {
	pos = min(pos, len(s))
	out := make([]uint16, 0, len(s)+len(ins))
	out = append(out, s[:pos]...)
	out = append(out, ins...)
	return append(out, s[pos:]...)
}

func textApply(s string, op []TextComp) string {
	u := toUTF16(s)
	for _, c := range op {
		if c.Ins {
			u = inject(u, c.P, c.S)
		} else {
			if !slices.Equal(sliceUTF16(u, c.P, c.P+len(c.S)), c.S) {
				throw("delete component %q does not match the deleted text", fromUTF16(c.S))
			}
			u = append(slices.Clone(sliceUTF16(u, 0, c.P)), sliceUTF16(u, c.P+len(c.S), len(u))...)
		}
	}
	return fromUTF16(u)
}

func textAppend(op []TextComp, c TextComp) []TextComp {
	if len(c.S) == 0 {
		return op
	}
	if len(op) == 0 {
		return append(op, c)
	}
	last := op[len(op)-1]
	if last.Ins && c.Ins && last.P <= c.P && c.P <= last.P+len(last.S) {
		op[len(op)-1] = TextComp{S: inject(last.S, c.P-last.P, c.S), P: last.P, Ins: true}
	} else if !last.Ins && !c.Ins && c.P <= last.P && last.P <= c.P+len(c.S) {
		op[len(op)-1] = TextComp{S: inject(c.S, last.P-c.P, last.S), P: c.P}
	} else {
		op = append(op, c)
	}
	return op
}

func textCompose(a, b []TextComp) []TextComp {
	out := slices.Clone(a)
	for _, c := range b {
		out = textAppend(out, c)
	}
	return out
}

func textTransformPosition(pos int, c TextComp, insertAfter bool) int {
	if c.Ins {
		if c.P < pos || (c.P == pos && insertAfter) {
			return pos + len(c.S)
		}
		return pos
	}
	if pos <= c.P {
		return pos
	} else if pos <= c.P+len(c.S) {
		return c.P
	}
	return pos - len(c.S)
}

func textTransformComponent(dest []TextComp, c, o TextComp, left bool) []TextComp {
	if c.Ins {
		return textAppend(dest, TextComp{S: c.S, P: textTransformPosition(c.P, o, !left), Ins: true})
	}
	if o.Ins {
		s := c.S
		if c.P < o.P {
			dest = textAppend(dest, TextComp{S: sliceUTF16(s, 0, o.P-c.P), P: c.P})
			s = sliceUTF16(s, o.P-c.P, len(s))
		}
		if len(s) > 0 {
			dest = textAppend(dest, TextComp{S: s, P: c.P + len(o.S)})
		}
		return dest
	}
	if c.P >= o.P+len(o.S) {
		return textAppend(dest, TextComp{S: c.S, P: c.P - len(o.S)})
	} else if c.P+len(c.S) <= o.P {
		return textAppend(dest, c)
	}
	n := TextComp{P: c.P}
	if c.P < o.P {
		n.S = slices.Clone(sliceUTF16(c.S, 0, o.P-c.P))
	}
	if c.P+len(c.S) > o.P+len(o.S) {
		n.S = append(n.S, sliceUTF16(c.S, o.P+len(o.S)-c.P, len(c.S))...)
	}
	is, ie := max(c.P, o.P), min(c.P+len(c.S), o.P+len(o.S))
	if !slices.Equal(sliceUTF16(c.S, is-c.P, ie-c.P), sliceUTF16(o.S, is-o.P, ie-o.P)) {
		throw("delete ops delete different text in the same region of the document")
	}
	if len(n.S) > 0 {
		n.P = textTransformPosition(n.P, o, false)
		dest = textAppend(dest, n)
	}
	return dest
}

// bootstrap is ot-json0's bootstrapTransform: transform built from transformComponent.
type bootstrap[T any] struct {
	tc  func(dest []T, c, o T, left bool) []T
	app func(dest []T, c T) []T
}

func (b bootstrap[T]) transformX(leftOp, rightOp []T) ([]T, []T) {
	var newRight []T
	for i := range rightOp {
		rc := rightOp[i]
		valid := true
		var newLeft []T
		k := 0
		for k < len(leftOp) {
			newLeft = b.tc(newLeft, leftOp[k], rc, true)
			next := b.tc(nil, rc, leftOp[k], false)
			k++
			if len(next) == 1 {
				rc = next[0]
			} else if len(next) == 0 {
				for _, c := range leftOp[k:] {
					newLeft = b.app(newLeft, c)
				}
				valid = false
				break
			} else {
				l, r := b.transformX(leftOp[k:], next)
				for _, c := range l {
					newLeft = b.app(newLeft, c)
				}
				for _, c := range r {
					newRight = b.app(newRight, c)
				}
				valid = false
				break
			}
		}
		if valid {
			newRight = b.app(newRight, rc)
		}
		leftOp = newLeft
	}
	return leftOp, newRight
}

func (b bootstrap[T]) transform(op, other []T, left bool) []T {
	if len(other) == 0 {
		return op
	}
	if len(op) == 1 && len(other) == 1 {
		return b.tc(nil, op[0], other[0], left)
	}
	if left {
		l, _ := b.transformX(op, other)
		return l
	}
	_, r := b.transformX(other, op)
	return r
}

var text0 = bootstrap[TextComp]{tc: textTransformComponent, app: textAppend}
