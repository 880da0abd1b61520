package richtext

import (
	"github.com/opstream/opstream/pluginsdk/doctype"
	"github.com/opstream/opstream/pluginsdk/engine"
)

// Type returns the rich-text type on JSON ops and snapshots, for clients that keep a copy of the
// document (client/undo): the engine's own functions, natively, with rich-text's sides (with
// engine.Left the other op's insert goes first at a tie). Snapshots are written as the engine
// writes them (AppendCanonical).
func Type() doctype.OT[Op, Op] {
	return doctype.OT[Op, Op]{
		ParseDoc:    ParseSnapshot,
		ParseOp:     ParseOp,
		AppendDoc:   func(dst []byte, d Op) []byte { return d.AppendCanonical(dst) },
		AppendOp:    func(dst []byte, op Op) []byte { return op.AppendJSON(dst) },
		ApplyOp:     Apply,
		TransformOp: func(op, other Op, side engine.Side) (Op, error) { return Transform(op, other, Side(side)), nil },
		InvertOp: func(op, doc Op) (Op, error) {
			if n, m := op.BaseLength(), doc.Length(); n > m {
				return nil, invalidf("the op spans %d units, the document has %d", n, m)
			}
			return Invert(op, doc), nil
		},
	}
}
