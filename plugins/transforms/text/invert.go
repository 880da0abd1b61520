package text

import "unicode/utf8"

// MakeInvertible is ot-text-unicode's makeInvertible(op, doc): op with every {"d":N} delete
// replaced by the text it deletes from doc, {"d":"text"}, so that Invert can undo it. Deletes
// that already carry text keep it (the reference does not check it). It fails, with an error
// wrapping ErrInvalid, when op is malformed or reads past the end of doc.
func MakeInvertible(op Op, doc string) (Op, error) {
	if err := Check(op); err != nil {
		return nil, err
	}
	if n, have := op.Len(), utf8.RuneCountInString(doc); n > have {
		return nil, tooLong(n, have)
	}
	out := make(Op, 0, len(op))
	for _, c := range op {
		switch c.Kind {
		case Skip:
			doc = doc[byteOffset(doc, c.N):]
		case Delete:
			i := byteOffset(doc, c.N)
			if c.S == "" {
				c = DeleteText(doc[:i])
			}
			doc = doc[i:]
		}
		out = appendComponent(out, c)
	}
	return trim(out), nil
}

// Invert is ot-text-unicode's invert: the op that undoes op, which must be invertible (every
// delete carries its text, see MakeInvertible; otherwise an error wrapping ErrInvalid). An
// insert becomes a delete of its text and a delete an insert.
func Invert(op Op) (Op, error) {
	if err := Check(op); err != nil {
		return nil, err
	}
	out := make(Op, 0, len(op))
	for i, c := range op {
		switch c.Kind {
		case Insert:
			c = DeleteText(c.S)
		case Delete:
			if c.S == "" {
				return nil, invalidf("component %d: cannot invert a delete without its text: make the op invertible first", i)
			}
			c = InsertText(c.S)
		}
		out = appendComponent(out, c)
	}
	return trim(out), nil
}

// InvertWithDoc is ot-text-unicode's invertWithDoc(op, doc): Invert(MakeInvertible(op, doc)),
// the op that undoes op applied to doc.
func InvertWithDoc(op Op, doc string) (Op, error) {
	inv, err := MakeInvertible(op, doc)
	if err != nil {
		return nil, err
	}
	return Invert(inv)
}
