package richtext

import "slices"

// Sizes of a live document's storage. A text insert is stored in pieces of at most maxPiece
// units; pieces are grouped in chunks of at most 2*chunkPieces. An op composes only the pieces
// it touches, so its cost depends on the op and a few pieces, not on the document's size
// (besides a walk over chunk lengths, 1/4096 of the document's components).
const (
	maxPiece    = 256
	chunkPieces = 64
)

// chunk is a run of pieces and its length in units.
type chunk struct {
	ops Op
	n   int64
}

// Doc is a live document: its insert components, stored in pieces and chunks (see maxPiece).
// Adjacent text pieces with equal attributes are one component of the Delta: Snapshot and Ops
// merge them, taking the attributes of the last one, as quill-delta's push does. Applying an op
// gives the document rich-text's compose gives, in that canonical form.
type Doc struct {
	chunks []chunk
	len    int64
}

// NewDoc returns a live document holding d (a snapshot: inserts only).
func NewDoc(d Op) *Doc {
	doc := &Doc{}
	doc.chunks = appendPieces(nil, d)
	for _, c := range doc.chunks {
		doc.len += c.n
	}
	return doc
}

// appendPieces appends the components of ops to chunks, cutting long text into pieces and
// pieces into chunks.
func appendPieces(chunks []chunk, ops Op) []chunk {
	for _, c := range cutPieces(nil, ops) {
		if len(chunks) == 0 || len(chunks[len(chunks)-1].ops) >= chunkPieces {
			chunks = append(chunks, chunk{ops: make(Op, 0, chunkPieces)})
		}
		last := &chunks[len(chunks)-1]
		last.ops = append(last.ops, c)
		last.n += c.Len()
	}
	return chunks
}

// cutPieces appends the components of ops to dst, cutting text longer than maxPiece.
func cutPieces(dst, ops Op) Op {
	for _, c := range ops {
		for c.Embed == nil && len(c.Text) > maxPiece {
			p := c
			p.Text = c.Text[:maxPiece:maxPiece]
			dst = append(dst, p)
			c.Text = c.Text[maxPiece:]
		}
		dst = append(dst, c)
	}
	return dst
}

// locate returns the chunk and piece holding unit pos (below d.len) and the piece's start.
func (d *Doc) locate(pos int64) (ci, pi int, start int64) {
	for ci = range d.chunks {
		if c := &d.chunks[ci]; pos < start+c.n {
			for pi = range c.ops {
				if l := c.ops[pi].Len(); pos < start+l {
					return ci, pi, start
				} else {
					start += l
				}
			}
		} else {
			start += c.n
		}
	}
	panic("richtext: locate past the end")
}

// Apply applies op; on error the document is unchanged.
func (d *Doc) Apply(op Op) error {
	end := op.BaseLength()
	if end > d.len {
		return invalidf("the op spans %d units, the document has %d", end, d.len)
	}
	var a int64 // the op's leading plain retain: untouched
	middle := op
	if len(op) > 0 && op[0].Kind == Retain && op[0].Attrs == nil {
		a, middle = op[0].N, op[1:]
	}
	if len(middle) == 0 {
		return nil
	}
	// The pieces from the one holding a (or the last, when a is the end) to the one holding
	// the op's last unit: composing them with the op, shifted, is composing the document.
	var local Op
	ci, pi, cj, pj, p0 := 0, 0, -1, -1, int64(0)
	if d.len > 0 {
		s := min(a, d.len-1)
		ci, pi, p0 = d.locate(s)
		cj, pj, _ = d.locate(max(end, s+1) - 1)
		for c := ci; c <= cj; c++ {
			from, to := 0, len(d.chunks[c].ops)
			if c == ci {
				from = pi
			}
			if c == cj {
				to = pj + 1
			}
			local = append(local, d.chunks[c].ops[from:to]...)
		}
	}
	shifted := middle
	if a > p0 {
		shifted = append(Op{{Kind: Retain, N: a - p0}}, middle...)
	}
	d.replace(ci, pi, cj, pj, Compose(local, shifted))
	for i := range middle {
		switch middle[i].Kind {
		case Insert:
			d.len += middle[i].Len()
		case Delete:
			d.len -= middle[i].N
		}
	}
	return nil
}

// replace puts ops in place of the pieces from (ci, pi) to (cj, pj), both included (none when
// cj is -1: the document was empty).
func (d *Doc) replace(ci, pi, cj, pj int, ops Op) {
	if cj < 0 {
		d.chunks = appendPieces(nil, ops)
		return
	}
	if ci == cj { // the common case: splice within one chunk, in place
		pieces := cutPieces(nil, ops)
		if c := &d.chunks[ci]; len(c.ops)-(pj+1-pi)+len(pieces) <= 2*chunkPieces && len(c.ops)-(pj+1-pi)+len(pieces) > 0 {
			for _, p := range c.ops[pi : pj+1] {
				c.n -= p.Len()
			}
			for _, p := range pieces {
				c.n += p.Len()
			}
			c.ops = slices.Replace(c.ops, pi, pj+1, pieces...)
			return
		}
	}
	// Take in a neighbour chunk less than half full, so that chunks stay large.
	var merged Op
	first, last := ci, cj
	if ci > 0 && len(d.chunks[ci-1].ops) < chunkPieces/2 {
		first--
		merged = append(merged, d.chunks[first].ops...)
	}
	merged = append(append(append(merged, d.chunks[ci].ops[:pi]...), ops...), d.chunks[cj].ops[pj+1:]...)
	if cj+1 < len(d.chunks) && len(d.chunks[cj+1].ops) < chunkPieces/2 {
		last++
		merged = append(merged, d.chunks[last].ops...)
	}
	ci, cj = first, last
	repl := appendPieces(nil, merged)
	d.chunks = append(d.chunks[:ci], append(repl, d.chunks[cj+1:]...)...)
}

// Ops returns the document's Delta (merged: see Doc).
func (d *Doc) Ops() Op {
	var out Op
	for _, c := range d.chunks {
		for _, p := range c.ops {
			if n := len(out); n > 0 && p.Embed == nil && out[n-1].Kind == Insert && out[n-1].Embed == nil && attrsEqual(p.Attrs, out[n-1].Attrs) {
				t := make([]uint16, 0, len(out[n-1].Text)+len(p.Text))
				out[n-1] = Comp{Kind: Insert, Text: append(append(t, out[n-1].Text...), p.Text...), Attrs: p.Attrs}
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// AppendSnapshot appends the document's snapshot, in canonical key order (AppendCanonical): the
// same document gives the same bytes however it was reached. JSON.stringify of rich-text's
// snapshot may order a component's keys differently; the JSON values are equal.
func (d *Doc) AppendSnapshot(b []byte) []byte { return d.Ops().AppendCanonical(b) }
