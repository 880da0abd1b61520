package memory

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// Provider keeps documents in memory. Create it with New. Safe for concurrent use.
type Provider struct {
	mu     sync.Mutex
	docs   map[storage.DocKey]*doc
	closed bool
}

type doc struct {
	typ   string
	epoch uint64
	ops   []storage.Op // ops[i].Revision == i+1
	snap  *storage.Snapshot
}

var _ storage.Provider = (*Provider)(nil)

// New returns an empty in-memory provider.
func New() *Provider {
	return &Provider{docs: make(map[storage.DocKey]*doc)}
}

func (p *Provider) lock() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("memory: closed: %w", storage.ErrUnavailable)
	}
	return nil
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func cloneOp(o storage.Op) storage.Op {
	o.Data = cloneBytes(o.Data)
	return o
}

func (d *doc) revision() int64 { return int64(len(d.ops)) }

func (d *doc) info(k storage.DocKey) storage.DocInfo {
	info := storage.DocInfo{Doc: k, Type: d.typ, Revision: d.revision(), Epoch: d.epoch}
	if d.snap != nil {
		info.SnapshotRevision = d.snap.Revision
	}
	return info
}

// Append implements storage.Provider.
func (p *Provider) Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	errs := storage.ValidateRequest(req)
	if err := p.lock(); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	resp := &storage.AppendResponse{Results: make([]storage.AppendResult, len(req.Appends))}
	for i := range req.Appends {
		a := &req.Appends[i]
		res := &resp.Results[i]
		d := p.docs[a.Doc]
		if d != nil {
			res.Revision = d.revision()
		}
		if errs[i] != nil {
			res.Err = errs[i]
			continue
		}
		if d != nil && a.Epoch < d.epoch {
			res.Err = fmt.Errorf("append %s: epoch %d < %d: %w", a.Doc, a.Epoch, d.epoch, storage.ErrFenced)
			continue
		}
		if res.Revision != a.ExpectedRevision {
			res.Err = fmt.Errorf("append %s: at revision %d, expected %d: %w", a.Doc, res.Revision, a.ExpectedRevision, storage.ErrConflict)
			continue
		}
		if d == nil {
			d = &doc{typ: a.Type}
			p.docs[a.Doc] = d
		}
		d.epoch = max(d.epoch, a.Epoch)
		for _, o := range a.Ops {
			d.ops = append(d.ops, cloneOp(o))
		}
		res.Revision = d.revision()
	}
	return resp, nil
}

// ReadOps implements storage.Provider.
func (p *Provider) ReadOps(ctx context.Context, req *storage.ReadOpsRequest) (*storage.ReadOpsResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storage.ValidateKey(req.Doc); err != nil {
		return nil, err
	}
	if req.From < 1 {
		return nil, fmt.Errorf("read ops %s: from %d < 1: %w", req.Doc, req.From, storage.ErrInvalid)
	}
	if err := p.lock(); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	resp := &storage.ReadOpsResponse{}
	d := p.docs[req.Doc]
	if d == nil || req.From > d.revision() {
		return resp, nil
	}
	limit := storage.ReadLimit(req.Limit)
	size := 0
	for _, o := range d.ops[req.From-1:] {
		if len(resp.Ops) == limit || (len(resp.Ops) > 0 && size+len(o.Data) > storage.MaxReadBytes) {
			break
		}
		size += len(o.Data)
		resp.Ops = append(resp.Ops, cloneOp(o))
	}
	return resp, nil
}

// Load implements storage.Provider.
func (p *Provider) Load(ctx context.Context, k storage.DocKey) (*storage.LoadResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storage.ValidateKey(k); err != nil {
		return nil, err
	}
	if err := p.lock(); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	d := p.docs[k]
	if d == nil {
		return nil, fmt.Errorf("load %s: %w", k, storage.ErrNotFound)
	}
	resp := &storage.LoadResponse{Info: d.info(k)}
	if d.snap != nil {
		s := *d.snap
		s.Data, s.Meta = cloneBytes(s.Data), cloneBytes(s.Meta)
		resp.Snapshot = &s
	}
	return resp, nil
}

// PutSnapshot implements storage.Provider. The document must exist (else ErrNotFound) and the
// snapshot may not be ahead of its log (else ErrInvalid).
func (p *Provider) PutSnapshot(ctx context.Context, k storage.DocKey, snap storage.Snapshot) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storage.ValidateKey(k); err != nil {
		return err
	}
	if err := p.lock(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	d := p.docs[k]
	if d == nil {
		return fmt.Errorf("put snapshot %s: %w", k, storage.ErrNotFound)
	}
	if snap.Revision < 0 || snap.Revision > d.revision() {
		return fmt.Errorf("put snapshot %s: revision %d outside 0..%d: %w", k, snap.Revision, d.revision(), storage.ErrInvalid)
	}
	if d.snap != nil && snap.Revision < d.snap.Revision {
		return nil
	}
	snap.Data, snap.Meta = cloneBytes(snap.Data), cloneBytes(snap.Meta)
	d.snap = &snap
	return nil
}

// Delete implements storage.Provider.
func (p *Provider) Delete(ctx context.Context, k storage.DocKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storage.ValidateKey(k); err != nil {
		return err
	}
	if err := p.lock(); err != nil {
		return err
	}
	defer p.mu.Unlock()
	delete(p.docs, k)
	return nil
}

// List implements storage.Provider. It sorts the tenant's ids on every call: fine for tests and
// dev mode, not for millions of documents.
func (p *Provider) List(ctx context.Context, req *storage.ListRequest) (*storage.ListResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.lock(); err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	var keys []storage.DocKey
	for k := range p.docs {
		if k.Tenant == req.Tenant && k.ID > req.After {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].ID < keys[j].ID })
	if limit := storage.ListLimit(req.Limit); len(keys) > limit {
		keys = keys[:limit]
	}
	resp := &storage.ListResponse{Docs: make([]storage.DocInfo, len(keys))}
	for i, k := range keys {
		resp.Docs[i] = p.docs[k].info(k)
	}
	return resp, nil
}

// Health implements storage.Provider: nil until Close.
func (p *Provider) Health(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.lock(); err != nil {
		return err
	}
	p.mu.Unlock()
	return nil
}

// Close implements storage.Provider; later calls fail with ErrUnavailable.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.docs = nil
	return nil
}
