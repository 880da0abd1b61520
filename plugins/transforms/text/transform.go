package text

import "unicode/utf8"

// taker walks an op, handing out pieces of its components: ot-text-unicode's makeTake.
type taker struct {
	op   Op
	idx  int // next component
	off  int // code points of op[idx] already taken
	boff int // bytes of op[idx].S already taken (inserts and text deletes)
}

// take returns up to n code points of the op (the whole next component when n < 0). At the
// end of the op it returns a skip of n (the op skips forever), or ok=false when n < 0. With
// indivisible set to Insert (or Delete), such components are returned whole even when longer
// than n.
func (t *taker) take(n int, indivisible Kind) (c Component, ok bool) {
	if t.idx == len(t.op) {
		if n < 0 {
			return Component{}, false
		}
		return SkipN(n), true
	}
	cur := t.op[t.idx]
	rest := cur.N - t.off
	if n < 0 || rest <= n || indivisible == cur.Kind {
		c = Component{Kind: cur.Kind, N: rest}
		if cur.S != "" {
			c.S = cur.S[t.boff:]
		}
		t.idx++
		t.off, t.boff = 0, 0
		return c, true
	}
	c = Component{Kind: cur.Kind, N: n}
	if cur.S != "" {
		end := t.boff + byteOffset(cur.S[t.boff:], n)
		c.S = cur.S[t.boff:end]
		t.boff = end
	}
	t.off += n
	return c, true
}

// peek returns the kind of the next component, 0 at the end.
func (t *taker) peek() Kind {
	if t.idx == len(t.op) {
		return 0
	}
	return t.op[t.idx].Kind
}

// byteOffset returns the byte offset of code point n in s (len(s) when s is shorter).
func byteOffset[S ~string | ~[]byte](s S, n int) int {
	i := 0
	for ; n > 0 && i < len(s); n-- {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		// Valid UTF-8: the lead byte gives the size.
		switch c := s[i]; {
		case c >= 0xf0:
			i += 4
		case c >= 0xe0:
			i += 3
		default:
			i += 2
		}
	}
	return min(i, len(s))
}

// sliceDelete returns code points [start, end) of the delete d, keeping its text if it has any:
// ot-text-unicode's dslice.
func sliceDelete(d Component, start, end int) Component {
	end = min(end, d.N)
	out := Component{Kind: Delete, N: end - start}
	if d.S != "" {
		b := byteOffset(d.S, start)
		e := b + byteOffset(d.S[b:], end-start)
		out.S = d.S[b:e]
	}
	return out
}

// Transform returns op transformed over other, two ops on the same document, so that it applies
// after other: ot-text-unicode's transform(op, other, side). With Left, where both insert at the
// same position op's insert goes first; with Right, other's. Both ops are checked first.
//
// TP1 holds: Apply(Apply(d, a), Transform(b, a, Right)) == Apply(Apply(d, b), Transform(a, b, Left)).
func Transform(op, other Op, side Side) (Op, error) {
	if err := Check(op); err != nil {
		return nil, err
	}
	if err := Check(other); err != nil {
		return nil, err
	}
	return transform(make(Op, 0, len(op)+2), op, other, side), nil
}

// transform appends op transformed over other to out (which must not share memory with op) and
// returns it: Transform without the checks. Both ops must be well formed (see Check).
func transform(out, op, other Op, side Side) Op {
	t := taker{op: op}
	for _, c2 := range other {
		switch c2.Kind {
		case Skip:
			for length := c2.N; length > 0; {
				c1, _ := t.take(length, Insert)
				out = appendComponent(out, c1)
				if c1.Kind != Insert {
					length -= c1.N
				}
			}
		case Insert:
			if side == Left && t.peek() == Insert {
				c1, _ := t.take(-1, 0)
				out = appendComponent(out, c1)
			}
			out = appendComponent(out, SkipN(c2.N))
		case Delete:
			for length := c2.N; length > 0; {
				c1, _ := t.take(length, Insert)
				switch c1.Kind {
				case Skip, Delete:
					// Skipped text is gone; deleted text was already deleted by other.
					length -= c1.N
				case Insert:
					out = appendComponent(out, c1)
				}
			}
		}
	}
	for {
		c, ok := t.take(-1, 0)
		if !ok {
			break
		}
		out = appendComponent(out, c)
	}
	return trim(out)
}

// Compose returns one op with the effect of a then b (b applies to the document a produces):
// ot-text-unicode's compose. Both ops are checked first.
func Compose(a, b Op) (Op, error) {
	if err := Check(a); err != nil {
		return nil, err
	}
	if err := Check(b); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(a)+len(b))
	t := taker{op: a}
	for _, c := range b {
		switch c.Kind {
		case Skip:
			for length := c.N; length > 0; {
				chunk, _ := t.take(length, Delete)
				out = appendComponent(out, chunk)
				if chunk.Kind != Delete {
					length -= chunk.N
				}
			}
		case Insert:
			out = appendComponent(out, c)
		case Delete:
			for offset := 0; offset < c.N; {
				chunk, _ := t.take(c.N-offset, Delete)
				switch chunk.Kind {
				case Skip:
					// b deletes text a kept.
					out = appendComponent(out, sliceDelete(c, offset, offset+chunk.N))
					offset += chunk.N
				case Insert:
					// b deletes text a inserted: both vanish.
					offset += chunk.N
				case Delete:
					out = appendComponent(out, chunk)
				}
			}
		}
	}
	for {
		c, ok := t.take(-1, 0)
		if !ok {
			break
		}
		out = appendComponent(out, c)
	}
	return trim(out), nil
}

// Apply returns doc with op applied (ot-text-unicode's apply on a string). It fails, with an
// error wrapping ErrInvalid, when op is malformed or reads past the end of doc. For live
// documents use Doc, whose cost does not grow with the document.
func Apply(doc string, op Op) (string, error) {
	if err := Check(op); err != nil {
		return "", err
	}
	if n, have := op.Len(), utf8.RuneCountInString(doc); n > have {
		return "", tooLong(n, have)
	}
	out := make([]byte, 0, len(doc)+16)
	for _, c := range op {
		switch c.Kind {
		case Skip:
			i := byteOffset(doc, c.N)
			out = append(out, doc[:i]...)
			doc = doc[i:]
		case Insert:
			out = append(out, c.S...)
		case Delete:
			doc = doc[byteOffset(doc, c.N):]
		}
	}
	return string(append(out, doc...)), nil
}

func tooLong(need, have int) error {
	return invalidf("the op is too long for this document: it reads %d characters, the document has %d", need, have)
}
