package doctype_test

import (
	"fmt"
	"strconv"

	"github.com/opstream/opstream/pluginsdk/doctype"
)

// A type whose document is an integer and whose op adds to it: its inverse subtracts.
func Example() {
	parse := func(b []byte) (int, error) { return strconv.Atoi(string(b)) }
	write := func(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }
	adder := doctype.OT[int, int]{
		ParseDoc: parse, ParseOp: parse, AppendDoc: write, AppendOp: write,
		ApplyOp:  func(d, op int) (int, error) { return d + op, nil },
		InvertOp: func(op, _ int) (int, error) { return -op, nil },
	}
	inv, after, back, err := doctype.UndoRoundTrip(adder, []byte("10"), []byte("5"))
	fmt.Println(string(inv), string(after), string(back), err)
	// Output: -5 15 10 <nil>
}
