package json0

import (
	"github.com/opstream/opstream/pluginsdk/doctype"
	"github.com/opstream/opstream/pluginsdk/engine"
)

// Type returns the json0 type on JSON ops and snapshots, for clients that keep a copy of the
// document (client/undo): the engine's own functions, natively. Invert is ot-json0's invert
// (json0 ops carry what they delete); the document only checks that the op applies.
func Type() doctype.OT[any, Op] {
	return doctype.OT[any, Op]{
		ParseDoc:    ParseValue,
		ParseOp:     ParseOp,
		AppendDoc:   AppendValue,
		AppendOp:    func(dst []byte, op Op) []byte { return op.AppendJSON(dst) },
		ApplyOp:     Apply,
		TransformOp: func(op, other Op, side engine.Side) (Op, error) { return Transform(op, other, side == engine.Left) },
		InvertOp: func(op Op, doc any) (Op, error) {
			if _, err := Apply(doc, op); err != nil {
				return nil, err
			}
			return Invert(op), nil
		},
	}
}
