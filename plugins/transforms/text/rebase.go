package text

// Rebaser transforms an op over a series of concurrent ops reusing its own memory, so that
// rebasing a small op costs no allocation per step: what a live document does with each late op
// (in a WASM guest an allocation costs more than a small transform). The zero value is ready to
// use. A Rebaser is not safe for concurrent use.
type Rebaser struct {
	buf [2]Op // the results of alternate steps
}

// Rebase returns op transformed over others in order, each step exactly Transform(op, other,
// side). Unlike Transform it does not check the ops: each must be well formed (ParseOp's results
// are; Check others first). On malformed ops the result is unspecified, though Rebase neither
// panics nor loops, and Doc.Apply still rejects a malformed result.
//
// The result lives in r's memory and is valid until the next call of Rebase; op may be the
// previous result. With no others it is op itself. Neither op nor others are modified.
func (r *Rebaser) Rebase(op Op, others []Op, side Side) Op {
	k := 0
	if sameArray(op, r.buf[0]) {
		k = 1
	}
	for _, other := range others {
		r.buf[k] = transform(r.buf[k][:0], op, other, side)
		op = r.buf[k]
		k ^= 1
	}
	return op
}

// sameArray reports whether a and b start at the same element of one array.
func sameArray(a, b Op) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0]
}
