package text

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// refAppendSnapshot is the simple snapshot writer AppendSnapshot replaced, kept as the
// reference its output must equal byte for byte: JSON.stringify's escaping ('"', '\\' and
// control characters only; U+2028, U+2029 and DEL stay raw), one byte at a time.
func refAppendSnapshot(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, `\b`...)
		case c == '\f':
			dst = append(dst, `\f`...)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// snapshotPieces are what random snapshot texts are made of: every byte that needs escaping,
// the characters that must not be escaped, and 1- to 4-byte UTF-8.
var snapshotPieces = func() []string {
	p := []string{"\"", "\\", "\x7f", "é", "中", "💃", "𝄞", "\u2028", "\u2029", "\uFFFD", "/", "<", "&"}
	for c := range 0x20 {
		p = append(p, string(rune(c)))
	}
	return p
}()

// randSnapshotText returns about n bytes: runs of plain ASCII of random length (so runs end at
// every offset of StringRun's 8- and 32-byte steps) between random special pieces.
func randSnapshotText(r *rand.Rand, n int) string {
	var sb strings.Builder
	for sb.Len() < n {
		for range r.IntN([]int{3, 12, 40, 100}[r.IntN(4)]) {
			sb.WriteByte(byte('a' + r.IntN(26)))
		}
		for range r.IntN(3) {
			sb.WriteString(snapshotPieces[r.IntN(len(snapshotPieces))])
		}
	}
	return sb.String()
}

func TestAppendJSONRuns(t *testing.T) {
	t.Parallel()
	// Every ASCII byte and every byte of a 2-, 3- and 4-byte character at every offset of a
	// 71-byte plain string, and at the ends.
	plain := strings.Repeat("abcdefgh", 9)[:71]
	specials := []string{"é", "中", "💃", "\u2028"}
	for c := range 0x80 {
		specials = append(specials, string(rune(c)))
	}
	for _, sp := range specials {
		for at := 0; at <= len(plain); at++ {
			s := plain[:at] + sp + plain[at:]
			got := append(appendJSONRuns([]byte{'"'}, []byte(s)), '"')
			if want := refAppendSnapshot(nil, s); string(got) != string(want) {
				t.Fatalf("%q at %d: got %s, want %s", sp, at, got, want)
			}
		}
	}
}

// TestAppendSnapshotReference checks AppendSnapshot against refAppendSnapshot on random
// documents edited at random, so escapes and multi-byte characters fall on chunk boundaries,
// into nil, a buffer with a prefix, and a reused buffer.
func TestAppendSnapshotReference(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	var reused []byte
	for _, size := range []int{0, 1, 7, 100, 1500, 5000, 70000} {
		text := randSnapshotText(r, size)
		d := NewDoc(text)
		for step := range 60 {
			switch n := d.Len(); {
			case step%3 == 2 && n > 0:
				pos := r.IntN(n)
				op := Normalize(Op{SkipN(pos), DeleteN(1 + r.IntN(min(n-pos, 2000)))})
				if err := d.Apply(op); err != nil {
					t.Fatal(err)
				}
			default:
				ins := randSnapshotText(r, 1+r.IntN([]int{4, 300, 1500}[r.IntN(3)]))
				op := Normalize(Op{SkipN(r.IntN(n + 1)), InsertText(ins)})
				if err := d.Apply(op); err != nil {
					t.Fatal(err)
				}
			}
			text = d.String()
			want := refAppendSnapshot(nil, text)
			if got := d.AppendSnapshot(nil); string(got) != string(want) {
				t.Fatalf("size %d step %d: snapshot differs from the reference", size, step)
			}
			if got := d.AppendSnapshot([]byte("prefix")); string(got) != "prefix"+string(want) {
				t.Fatalf("size %d step %d: snapshot after a prefix differs", size, step)
			}
			reused = d.AppendSnapshot(reused[:0])
			if string(reused) != string(want) {
				t.Fatalf("size %d step %d: snapshot into a reused buffer differs", size, step)
			}
		}
		// The snapshot is valid JSON for the text, and ParseSnapshot reads it back.
		var s string
		if err := json.Unmarshal(reused, &s); err != nil || s != text {
			t.Fatalf("size %d: snapshot does not decode to the text: %v", size, err)
		}
		if s, err := ParseSnapshot(reused); err != nil || s != text || !utf8.ValidString(s) {
			t.Fatalf("size %d: ParseSnapshot: %v", size, err)
		}
		checkChunks(t, d)
	}
}
