package storage

import "fmt"

// Page limits shared by the shipped providers. A provider may use smaller pages; callers read
// until a short page.
const (
	// MaxReadOps is the most ops a ReadOps page returns; a Limit of 0 or above it means this.
	MaxReadOps = 10_000
	// MaxReadBytes bounds the op data in one ReadOps page (at least one op is always returned),
	// so a page of large ops stays well under the plugin boundary's message limit.
	MaxReadBytes = 8 << 20
	// MaxList is the most documents a List page returns; a Limit of 0 or above it means this.
	MaxList = 10_000
)

// ValidateKey returns an error wrapping ErrInvalid when k cannot name a document.
func ValidateKey(k DocKey) error {
	if k.ID == "" {
		return fmt.Errorf("document %q: empty id: %w", k.String(), ErrInvalid)
	}
	return nil
}

// Validate checks what can be checked about a without reading the store: a valid key, a
// non-negative ExpectedRevision, at least one op, and op revisions ExpectedRevision+1, +2, ...
// The error wraps ErrInvalid.
func (a *Append) Validate() error {
	if err := ValidateKey(a.Doc); err != nil {
		return err
	}
	if a.ExpectedRevision < 0 {
		return fmt.Errorf("append %s: negative expected revision %d: %w", a.Doc, a.ExpectedRevision, ErrInvalid)
	}
	if len(a.Ops) == 0 {
		return fmt.Errorf("append %s: no ops: %w", a.Doc, ErrInvalid)
	}
	for i, op := range a.Ops {
		if want := a.ExpectedRevision + int64(i) + 1; op.Revision != want {
			return fmt.Errorf("append %s: op %d has revision %d, want %d: %w", a.Doc, i, op.Revision, want, ErrInvalid)
		}
	}
	return nil
}

// ValidateRequest checks every append of req (see Append.Validate) and that no document appears
// twice. It returns one error per append (nil for valid ones), in request order.
func ValidateRequest(req *AppendRequest) []error {
	errs := make([]error, len(req.Appends))
	seen := make(map[DocKey]struct{}, len(req.Appends))
	for i := range req.Appends {
		a := &req.Appends[i]
		if err := a.Validate(); err != nil {
			errs[i] = err
			continue
		}
		if _, dup := seen[a.Doc]; dup {
			errs[i] = fmt.Errorf("append %s: document appears twice in one request: %w", a.Doc, ErrInvalid)
			continue
		}
		seen[a.Doc] = struct{}{}
	}
	return errs
}

// ReadLimit returns the page size to use for a requested limit: MaxReadOps when limit is 0 or
// too large.
func ReadLimit(limit int) int {
	if limit <= 0 || limit > MaxReadOps {
		return MaxReadOps
	}
	return limit
}

// ListLimit returns the page size to use for a requested List limit: MaxList when limit is 0 or
// too large.
func ListLimit(limit int) int {
	if limit <= 0 || limit > MaxList {
		return MaxList
	}
	return limit
}
