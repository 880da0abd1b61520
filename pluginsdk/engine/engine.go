package engine

import (
	"errors"
	"fmt"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// Side says which of two inserts at one position goes first in a transform.
type Side uint8

const (
	// Left: the transformed op's insert goes first (ABI side 0).
	Left Side = Side(wasm.SideLeft)
	// Right: the other op's insert goes first (ABI side 1).
	Right Side = Side(wasm.SideRight)
)

// Engine is a document type: what a plugin author implements. Ops and snapshots are byte
// strings (JSON values for engines shipped with OpStream, see docs/plugins.md).
//
// Methods are called one at a time (a WASM instance is single-threaded). An error made with
// Invalid (or wrapping ErrInvalidOp) means the input is invalid and reaches the client as a
// rejected op (status 1); any other error is a failure of the engine (status 2). A panic is
// recovered into status 2 where possible.
type Engine interface {
	// Manifest describes the engine; Role and ABI are filled in by Register.
	Manifest() wasm.Manifest
	// Empty returns the snapshot of a new, empty document.
	Empty() []byte
	// Open loads a snapshot as a live document. snapshot is only valid during the call.
	Open(snapshot []byte) (Doc, error)
	// Validate reports whether op is well formed, without a document.
	Validate(op []byte) error
	// Transform returns op transformed over other, a concurrent op applied first. With Left, of
	// two inserts at one position op's goes first. The inputs are only valid during the call.
	Transform(op, other []byte, side Side) ([]byte, error)
}

// Doc is a live document held in guest memory between calls.
type Doc interface {
	// Apply validates op against the document and applies it. On error the document is
	// unchanged. op is only valid during the call.
	Apply(op []byte) error
	// Snapshot returns the document's snapshot.
	Snapshot() []byte
}

// Closer is optionally implemented by a Doc that must release resources when its handle is
// closed.
type Closer interface {
	Close()
}

// Composer is optionally implemented by an Engine that can compose two ops; the manifest must
// then list the capability "compose" (Register checks this).
type Composer interface {
	// Compose returns one op with the effect of a then b.
	Compose(a, b []byte) ([]byte, error)
}

// CapabilityCompose is the manifest capability of engines implementing Composer.
const CapabilityCompose = "compose"

// ErrInvalidOp is wrapped by errors that mean "the input is invalid" (status 1).
var ErrInvalidOp = errors.New("invalid op")

// Invalid returns an error wrapping ErrInvalidOp with a formatted message: the input is invalid.
func Invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalidOp }

// ParsedOp is an op in an engine's own decoded form (see OpParser).
type ParsedOp any

// OpParser is an optional Engine extension for speed. An engine that implements it has each op
// decoded once per call instead of once per transform step, and the concurrent ops an op is
// rebased over (the same few ops arrive again and again on a busy document) decoded once and
// cached across calls. ParseOp must validate like Validate and must not keep references to its
// input (the buffer is reused); TransformOp and AppendOp must not modify their arguments.
type OpParser interface {
	ParseOp(op []byte) (ParsedOp, error)
	TransformOp(op, other ParsedOp, side Side) (ParsedOp, error)
	AppendOp(dst []byte, op ParsedOp) []byte
}

// OpApplier is an optional Doc extension used with OpParser: it applies an already decoded op
// (validated against the document; unchanged on error).
type OpApplier interface {
	ApplyOp(op ParsedOp) error
}

// OpRebaser is an optional OpParser extension for engines whose transforms are cheap next to an
// allocation (in a WASM guest a small allocation can cost more than a small transform). With it
// an apply takes the submitted op from ParseOpScratch and rebases it over all the concurrent ops
// in one RebaseOp call instead of one TransformOp call per op, so the engine can decode and
// transform into memory it reuses from call to call. Engines without it are called as before.
//
// Results of ParseOpScratch and RebaseOp may live in memory the engine owns and reuses: they are
// valid until the next call of either method, and the SDK only passes them to RebaseOp, AppendOp
// and the document's ApplyOp within the same apply (ApplyOp must not keep a reference to them).
type OpRebaser interface {
	OpParser
	// ParseOpScratch is ParseOp (the same validation and errors) for the op of one apply.
	ParseOpScratch(op []byte) (ParsedOp, error)
	// RebaseOp returns op transformed over others in order: what calling TransformOp over
	// each in turn returns. op comes from ParseOpScratch and others from ParseOp, so both were
	// validated already. On error, i is the index in others of the op the step failed over. It
	// must not modify op or others.
	RebaseOp(op ParsedOp, others []ParsedOp, side Side) (out ParsedOp, i int, err error)
}
