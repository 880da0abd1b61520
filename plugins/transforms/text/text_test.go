package text

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseOp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string // want "" means an invalid-op error
	}{
		{"empty", `[]`, `[]`},
		{"whitespace", " [ 3 ,\t\"hi\" ,\n{ \"d\" : 2 } ] ", `[3,"hi",{"d":2}]`},
		{"delete text", `[{"d":"abc"}]`, `[{"d":"abc"}]`},
		{"escapes", `["\"\\\/\b\f\n\r\t\u0001\u00e9"]`, `["\"\\/\b\f\n\r\t\u0001é"]`},
		{"surrogate pair", `["\ud83d\udc83x"]`, `["💃x"]`},
		{"upper hex", `["\uD83D\uDC83"]`, `["💃"]`},
		{"raw astral", `["💃"]`, `["💃"]`},
		{"exponent", `[1e2,"x"]`, `[100,"x"]`},
		{"integral fraction", `[2.0,"x"]`, `[2,"x"]`},
		{"not array", `{"d":1}`, ""},
		{"trailing skip", `[3]`, ""},
		{"adjacent skips", `[1,2,"x"]`, ""},
		{"zero skip", `[0,"x"]`, ""},
		{"negative skip", `[-1,"x"]`, ""},
		{"fraction", `[1.5,"x"]`, ""},
		{"huge", `[9007199254740992,"x"]`, ""},
		{"empty insert", `[""]`, ""},
		{"empty delete", `[{"d":""}]`, ""},
		{"zero delete", `[{"d":0}]`, ""},
		{"unknown key", `[{"x":1}]`, ""},
		{"extra key", `[{"d":1,"x":1}]`, ""},
		{"bool", `[true]`, ""},
		{"null", `[null]`, ""},
		{"nested", `[[1]]`, ""},
		{"lone high surrogate", `["\ud83d"]`, ""},
		{"lone low surrogate", `["\udc83"]`, ""},
		{"high then non-low", `["\ud83d\u0041"]`, ""},
		{"bad escape", `["\x"]`, ""},
		{"short unicode escape", `["\u12"]`, ""},
		{"raw control", "[\"a\nb\"]", ""},
		{"invalid utf8", "[\"\xff\"]", ""},
		{"unterminated", `["abc`, ""},
		{"unterminated array", `[1,"a"`, ""},
		{"trailing comma", `["a",]`, ""},
		{"trailing data", `["a"] x`, ""},
		{"leading zero", `[01,"a"]`, ""},
		{"empty input", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := ParseOp([]byte(tt.in))
			if tt.want == "" {
				if err == nil || !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseOp(%q) = %v, %v; want an ErrInvalid error", tt.in, op, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOp(%q): %v", tt.in, err)
			}
			if got := op.String(); got != tt.want {
				t.Fatalf("ParseOp(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSnapshot(t *testing.T) {
	t.Parallel()
	s, err := ParseSnapshot([]byte(` "a\ud83d\udc83\n" `))
	if err != nil || s != "a💃\n" {
		t.Fatalf("ParseSnapshot = %q, %v", s, err)
	}
	for _, in := range []string{``, `1`, `"abc`, `"a" "b"`, `["a"]`, `null`} {
		if _, err := ParseSnapshot([]byte(in)); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseSnapshot(%q) err = %v, want ErrInvalid", in, err)
		}
	}
}

func TestApplyErrorsLeaveDocUnchanged(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`[6,"x"]`, `[{"d":6}]`, `[3,"x",{"d":3}]`, `["x",{"d":"abcdef"}]`} {
		d := NewDoc("ab💃de")
		err := d.Apply(mustParse(t, []byte(in)))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", in, err)
		}
		if d.String() != "ab💃de" || d.Len() != 5 {
			t.Errorf("%s: document changed to %q", in, d.String())
		}
	}
	// The text of a delete is not checked, as in ot-text-unicode.
	d := NewDoc("abc")
	if err := d.Apply(mustParse(t, []byte(`[{"d":"xy"}]`))); err != nil || d.String() != "c" {
		t.Fatalf("delete with other text: %q, %v", d.String(), err)
	}
}

var alphabet = []string{"a", "b", "c", " ", "\n", "\"", "\\", "é", "中", "💃", "𝄞", "\u0001", "\u2028"}

func randText(r *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

// randOp returns a random op valid against a document of n code points.
func randOp(r *rand.Rand, doc string) Op {
	n := utf8.RuneCountInString(doc)
	var op Op
	pos := 0
	for range r.IntN(6) {
		switch k := r.IntN(3); {
		case k == 0 && pos < n:
			m := 1 + r.IntN(min(n-pos, 10))
			op = append(op, SkipN(m))
			pos += m
		case k == 1:
			op = append(op, InsertText(randText(r, 1+r.IntN(5))))
		case pos < n:
			m := 1 + r.IntN(min(n-pos, 6))
			if r.IntN(2) == 0 {
				op = append(op, DeleteN(m))
			} else {
				b := byteOffset(doc, pos)
				op = append(op, DeleteText(doc[b:b+byteOffset(doc[b:], m)]))
			}
			pos += m
		}
	}
	return Normalize(op)
}

// TestTP1 checks Transform's convergence property on random ops:
// apply(apply(d,a), transform(b,a,left)) == apply(apply(d,b), transform(a,b,right)).
func TestTP1(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		doc := randText(r, r.IntN(30))
		a, b := randOp(r, doc), randOp(r, doc)
		for _, side := range []Side{Left, Right} {
			other := Right
			if side == Right {
				other = Left
			}
			b2, err1 := Transform(b, a, side)
			a2, err2 := Transform(a, b, other)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			x := must(Apply(must(Apply(doc, a)), b2))
			y := must(Apply(must(Apply(doc, b)), a2))
			if x != y {
				t.Fatalf("case %d: TP1 fails: doc %q a %s b %s side %s: %q != %q", i, doc, a, b, side, x, y)
			}
		}
		// Compose agrees with applying in sequence.
		c := randOp(r, must(Apply(doc, a)))
		ac, err := Compose(a, c)
		if err != nil {
			t.Fatal(err)
		}
		if x, y := must(Apply(doc, ac)), must(Apply(must(Apply(doc, a)), c)); x != y {
			t.Fatalf("case %d: compose: %q != %q", i, x, y)
		}
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestRope applies random ops to large documents through Doc and the string Apply.
func TestRope(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 10, 3000, 20000} {
		text := randText(r, size)
		d := NewDoc(text)
		for i := range 800 {
			n := utf8.RuneCountInString(text)
			var op Op
			switch r.IntN(4) {
			case 0: // big insert
				pos := r.IntN(n + 1)
				op = Normalize(Op{SkipN(pos), InsertText(randText(r, 1+r.IntN(3000)))})
			case 1: // big delete
				if n == 0 {
					continue
				}
				pos := r.IntN(n)
				op = Normalize(Op{SkipN(pos), DeleteN(1 + r.IntN(min(n-pos, 4000)))})
			default:
				// small edits anywhere
				pos := r.IntN(n + 1)
				op = Normalize(append(Op{SkipN(pos)}, randOp(r, text[byteOffset(text, pos):])...))
				if err := Check(op); err != nil {
					continue // two adjacent skips; skip the case
				}
			}
			want, err := Apply(text, op)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Apply(op); err != nil {
				t.Fatal(err)
			}
			text = want
			if i%100 == 0 || d.Len() != utf8.RuneCountInString(text) {
				if d.String() != text || d.Len() != utf8.RuneCountInString(text) {
					t.Fatalf("size %d step %d: rope diverged", size, i)
				}
				checkChunks(t, d)
			}
		}
		if string(d.AppendSnapshot(nil)) != snapshotJSON(text) {
			t.Fatalf("snapshot differs")
		}
	}
}

func checkChunks(t *testing.T, d *Doc) {
	t.Helper()
	total := 0
	for i, c := range d.chunks {
		if len(c.b) == 0 || !utf8.Valid(c.b) || utf8.RuneCount(c.b) != c.runes || len(c.b) > maxChunk+maxChunk/2 {
			t.Fatalf("chunk %d bad: %d bytes, %d runes", i, len(c.b), c.runes)
		}
		total += c.runes
	}
	if total != d.runes {
		t.Fatalf("runes %d, chunks sum to %d", d.runes, total)
	}
}
