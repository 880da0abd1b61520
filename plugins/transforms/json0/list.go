package json0

// listChunk is how many elements a List keeps per chunk (a chunk splits at twice that): an
// insert or delete moves at most a chunk's elements plus the chunk headers, not the list's
// tail, which in a WASM guest cost about 0.9 ms per op on a list of 26,000 records. Chunks are
// small because moving pointers is what costs while the guest's GC marks: every pointer moved
// goes through a write barrier, and in a guest (one thread, marking only in allocation assists)
// a mark phase lasts a large part of the time on a large document. With chunks of 256 to 512
// elements, ops on a list in a 1 MB document cost 1.5x what they cost in a 1 KB one; with 64
// to 128, the same.
const listChunk = 64

// List is a JSON array, stored in chunks (see listChunk). The zero value is an empty list.
type List struct {
	chunks [][]any
	n      int
	// hc and hs are where the last find stopped: a chunk and the index of its first element
	// (hs is the length of chunks[:hc]), so that ops near the last one find their chunk
	// without walking the headers from the start.
	hc, hs int
}

// NewList returns a list holding a (which it keeps).
func NewList(a []any) *List {
	l := &List{}
	for len(a) > listChunk {
		l.chunks = append(l.chunks, a[:listChunk:listChunk])
		a = a[listChunk:]
	}
	if len(a) > 0 {
		l.chunks = append(l.chunks, a)
	}
	for _, c := range l.chunks {
		l.n += len(c)
	}
	return l
}

// Len returns the number of elements.
func (l *List) Len() int { return l.n }

// find returns the chunk holding element i (0 <= i < Len) and i's index in it.
func (l *List) find(i int) (c, j int) {
	s := 0
	if l.hc < len(l.chunks) && l.hs <= i {
		c, s = l.hc, l.hs
	}
	for ; c < len(l.chunks); c++ {
		if i-s < len(l.chunks[c]) {
			l.hc, l.hs = c, s
			return c, i - s
		}
		s += len(l.chunks[c])
	}
	panic("json0: list index out of range")
}

// At returns element i (0 <= i < Len).
func (l *List) At(i int) any {
	c, j := l.find(i)
	return l.chunks[c][j]
}

// Set replaces element i (0 <= i < Len).
func (l *List) Set(i int, v any) {
	c, j := l.find(i)
	l.chunks[c][j] = v
}

// Append adds v at the end.
func (l *List) Append(v any) {
	if k := len(l.chunks); k == 0 || len(l.chunks[k-1]) >= 2*listChunk {
		l.chunks = append(l.chunks, make([]any, 0, listChunk))
	}
	k := len(l.chunks) - 1
	l.chunks[k] = append(l.chunks[k], v)
	l.n++
}

// Insert puts v at index i (0 <= i <= Len), moving the elements from i on by one.
func (l *List) Insert(i int, v any) {
	if i == l.n {
		l.Append(v)
		return
	}
	c, j := l.find(i)
	ch := append(l.chunks[c], nil)
	copy(ch[j+1:], ch[j:])
	ch[j] = v
	l.chunks[c] = ch
	l.n++
	if c < l.hc {
		l.hs++
	}
	if len(ch) > 2*listChunk { // split: each half gets its own array
		l.hc, l.hs = 0, 0
		right := append(make([]any, 0, listChunk), ch[listChunk:]...)
		clear(ch[listChunk:])
		l.chunks[c] = ch[:listChunk]
		l.chunks = append(l.chunks, nil)
		copy(l.chunks[c+2:], l.chunks[c+1:])
		l.chunks[c+1] = right
	}
}

// Delete removes element i (0 <= i < Len) and returns it.
func (l *List) Delete(i int) any {
	c, j := l.find(i)
	ch := l.chunks[c]
	v := ch[j]
	copy(ch[j:], ch[j+1:])
	ch[len(ch)-1] = nil
	l.chunks[c] = ch[:len(ch)-1]
	l.n--
	if c < l.hc {
		l.hs--
	}
	if len(l.chunks[c]) == 0 {
		l.chunks = append(l.chunks[:c], l.chunks[c+1:]...)
		l.hc, l.hs = 0, 0
	}
	return v
}

// Values returns the elements in a new slice.
func (l *List) Values() []any {
	out := make([]any, 0, l.n)
	for _, c := range l.chunks {
		out = append(out, c...)
	}
	return out
}
