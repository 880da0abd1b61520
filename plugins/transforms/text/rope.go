package text

import (
	"math/bits"
	"slices"
	"strings"
	"unicode/utf8"
)

// Chunk sizes of the rope, in bytes. A chunk that grows past maxChunk is split into pieces of
// about splitChunk; one that shrinks below minChunk is merged into a neighbour when they fit
// together. Small chunks keep an edit's memmove and code-point scan short; the index keeps
// finding a chunk logarithmic.
const (
	maxChunk   = 1024
	splitChunk = 512
	minChunk   = 128
)

// chunk is a piece of the document: valid UTF-8, split only between code points.
type chunk struct {
	b     []byte
	runes int
}

// byteOffset returns the byte offset of code point n in the chunk.
func (c *chunk) byteOffset(n int) int {
	if c.runes == len(c.b) { // ASCII
		return n
	}
	if n <= c.runes/2 {
		return byteOffset(c.b, n)
	}
	// Nearer the end: walk back over the last runes-n code points.
	i := len(c.b)
	for k := c.runes - n; k > 0; {
		i--
		if utf8.RuneStart(c.b[i]) {
			k--
		}
	}
	return i
}

// Doc is a live text document: a rope of chunks with a Fenwick tree over their lengths in code
// points, so applying an op costs O(components × (log chunks + chunk size)) whatever the
// document's size. The zero value is an empty document. A Doc is not safe for concurrent use.
type Doc struct {
	chunks []chunk
	tree   []int // Fenwick tree (1-based) over chunks[i].runes
	runes  int
	bytes  int
}

// NewDoc returns a document holding s. Invalid UTF-8 in s is replaced by U+FFFD (ParseSnapshot
// never returns any).
func NewDoc(s string) *Doc {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	d := &Doc{}
	d.chunks = appendChunks(nil, s)
	d.rebuild()
	return d
}

// appendChunks appends s to cs cut into chunks of about splitChunk bytes.
func appendChunks[S ~string | ~[]byte](cs []chunk, s S) []chunk {
	for len(s) > 0 {
		n := len(s)
		if n > maxChunk {
			n = splitChunk
			for n < len(s) && !utf8.RuneStart(s[n]) {
				n++
			}
		}
		b := make([]byte, n, min(n+n/4+16, maxChunk+utf8.UTFMax))
		copy(b, s[:n])
		cs = append(cs, chunk{b: b, runes: utf8.RuneCount(b)})
		s = s[n:]
	}
	return cs
}

// rebuild recomputes the totals and the Fenwick tree after chunks were added or removed.
func (d *Doc) rebuild() {
	n := len(d.chunks)
	if cap(d.tree) < n+1 {
		d.tree = make([]int, n+1, n+n/2+8)
	}
	d.tree = d.tree[:n+1]
	clear(d.tree)
	d.runes, d.bytes = 0, 0
	for i := range d.chunks {
		c := &d.chunks[i]
		d.runes += c.runes
		d.bytes += len(c.b)
		j := i + 1
		d.tree[j] += c.runes
		if k := j + j&-j; k <= n {
			d.tree[k] += d.tree[j]
		}
	}
}

// add adds delta to chunk i's length in the tree.
func (d *Doc) add(i, delta int) {
	for j := i + 1; j < len(d.tree); j += j & -j {
		d.tree[j] += delta
	}
	d.runes += delta
}

// find returns the chunk holding code point pos and pos's offset in it; for pos == Len(), the
// last chunk and its length. The document must not be empty.
func (d *Doc) find(pos int) (i, off int) {
	n := len(d.chunks)
	idx, rem := 0, pos
	for step := 1 << (bits.Len(uint(n)) - 1); step > 0; step >>= 1 {
		if j := idx + step; j <= n && d.tree[j] <= rem {
			idx = j
			rem -= d.tree[j]
		}
	}
	if idx == n {
		return n - 1, d.chunks[n-1].runes
	}
	return idx, rem
}

// Len returns the document's length in code points.
func (d *Doc) Len() int { return d.runes }

// String returns the document's text.
func (d *Doc) String() string {
	var sb strings.Builder
	sb.Grow(d.bytes)
	for _, c := range d.chunks {
		sb.Write(c.b)
	}
	return sb.String()
}

// AppendSnapshot appends the document's snapshot (a JSON string) to dst. It grows dst once to
// hold the text unescaped; pass a reused buffer to avoid even that.
func (d *Doc) AppendSnapshot(dst []byte) []byte {
	dst = slices.Grow(dst, d.bytes+2)
	dst = append(dst, '"')
	for i := range d.chunks {
		dst = appendJSONRuns(dst, d.chunks[i].b)
	}
	return append(dst, '"')
}

// Apply applies op to the document. When op is malformed or reads past the end of the
// document it returns an error wrapping ErrInvalid and the document is unchanged.
func (d *Doc) Apply(op Op) error {
	if err := Check(op); err != nil {
		return err
	}
	if n := op.Len(); n > d.runes {
		return tooLong(n, d.runes)
	}
	pos := 0
	for _, c := range op {
		switch c.Kind {
		case Skip:
			pos += c.N
		case Insert:
			d.insert(pos, c.S, c.N)
			pos += c.N
		case Delete:
			d.delete(pos, c.N)
		}
	}
	return nil
}

// insert inserts s (n code points) at code point pos.
func (d *Doc) insert(pos int, s string, n int) {
	if len(d.chunks) == 0 {
		d.chunks = appendChunks(d.chunks, s)
		d.rebuild()
		return
	}
	i, off := d.find(pos)
	c := &d.chunks[i]
	at := c.byteOffset(off)
	if len(c.b)+len(s) <= maxChunk {
		old := len(c.b)
		c.b = append(c.b, s...) // grow
		copy(c.b[at+len(s):], c.b[at:old])
		copy(c.b[at:], s)
		c.runes += n
		d.bytes += len(s)
		d.add(i, n)
		return
	}
	// Too big for one chunk: cut old[:at] + s + old[at:] into new chunks.
	joined := make([]byte, 0, len(c.b)+len(s))
	joined = append(joined, c.b[:at]...)
	joined = append(joined, s...)
	joined = append(joined, c.b[at:]...)
	pieces := appendChunks(nil, joined)
	d.chunks = append(d.chunks[:i], append(pieces, d.chunks[i+1:]...)...)
	d.rebuild()
}

// delete removes n code points at pos; pos+n <= Len().
func (d *Doc) delete(pos, n int) {
	structural := false
	for n > 0 {
		i, off := d.find(pos)
		c := &d.chunks[i]
		k := min(n, c.runes-off)
		from := c.byteOffset(off)
		var to int
		if c.runes == len(c.b) {
			to = from + k
		} else {
			to = c.byteOffset(off + k)
		}
		c.b = append(c.b[:from], c.b[to:]...)
		c.runes -= k
		d.bytes -= to - from
		d.add(i, -k)
		n -= k
		if c.runes == 0 {
			d.chunks = append(d.chunks[:i], d.chunks[i+1:]...)
			structural = true
		} else if len(c.b) < minChunk && len(d.chunks) > 1 {
			// Merge with the next chunk (or the previous one for the last) when they fit.
			j := i
			if j == len(d.chunks)-1 {
				j--
			}
			a, b := &d.chunks[j], &d.chunks[j+1]
			if len(a.b)+len(b.b) <= maxChunk {
				a.b = append(a.b, b.b...)
				a.runes += b.runes
				d.chunks = append(d.chunks[:j+1], d.chunks[j+2:]...)
				structural = true
			}
		}
		if structural {
			d.rebuild()
			structural = false
		}
	}
}
