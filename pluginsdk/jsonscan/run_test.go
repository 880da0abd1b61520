package jsonscan

import (
	"strings"
	"testing"
)

// stringRunNaive is StringRun a byte at a time.
func stringRunNaive(b []byte) (int, bool) {
	n, high := 0, false
	for ; n < len(b); n++ {
		c := b[n]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		high = high || c >= 0x80
	}
	return n, high
}

func TestStringRun(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("abcdefgh", 9)
	var cases []string
	for _, stop := range []string{`"`, `\`, "\x00", "\x1f", "\n", ""} {
		for _, pre := range []string{"", "a", "é", long[:7], long[:8], long[:31], long[:32], long[:33], long, long + "é", "é" + long} {
			for _, post := range []string{"", "é", "\xff", long, `"` + long} {
				cases = append(cases, pre+stop+post)
			}
		}
	}
	cases = append(cases, " ", "\x7f\x80", strings.Repeat("\x20\x21\x5b\x5d\x7f\xff", 20))
	for _, c := range cases {
		n, high := StringRun([]byte(c))
		wn, whigh := stringRunNaive([]byte(c))
		if n != wn || high != whigh {
			t.Errorf("StringRun(%q) = %d, %v; want %d, %v", c, n, high, wn, whigh)
		}
	}
}

func FuzzStringRun(f *testing.F) {
	f.Add([]byte(`abcdefghijklmnopqrstuvwxyz0123456789"x`))
	f.Add([]byte("\x80\x81abcdefgh\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, high := StringRun(b)
		wn, whigh := stringRunNaive(b)
		if n != wn || high != whigh {
			t.Fatalf("StringRun(%q) = %d, %v; want %d, %v", b, n, high, wn, whigh)
		}
	})
}

func BenchmarkStringRun(b *testing.B) {
	s := []byte(strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 30) + `"`)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if n, _ := StringRun(s); n != len(s)-1 {
			b.Fatal(n)
		}
	}
}
