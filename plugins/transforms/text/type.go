package text

import (
	"github.com/opstream/opstream/pluginsdk/doctype"
	"github.com/opstream/opstream/pluginsdk/engine"
)

// Type returns the text type on JSON ops and snapshots, for clients that keep a copy of the
// document (client/undo): the engine's own functions, natively. Invert is InvertWithDoc.
func Type() doctype.OT[string, Op] {
	return doctype.OT[string, Op]{
		ParseDoc:    ParseSnapshot,
		ParseOp:     ParseOp,
		AppendDoc:   appendJSONString,
		AppendOp:    func(dst []byte, op Op) []byte { return op.AppendJSON(dst) },
		ApplyOp:     Apply,
		TransformOp: func(op, other Op, side engine.Side) (Op, error) { return Transform(op, other, Side(side)) },
		InvertOp:    InvertWithDoc,
	}
}
