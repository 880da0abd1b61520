package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// healthTimeout bounds Health when the caller's context has no earlier deadline.
const healthTimeout = 2 * time.Second

// configureTimeout bounds the connection check and script loading in Configure.
const configureTimeout = 10 * time.Second

// Provider is the Redis storage provider. Create it with New, then Configure it before any
// other call. Safe for concurrent use.
type Provider struct {
	st atomic.Pointer[state]
}

// state is everything Configure opens; it is immutable once published.
type state struct {
	cfg Config
	rdb *goredis.Client
}

var (
	_ storage.Provider   = (*Provider)(nil)
	_ storage.Configurer = (*Provider)(nil)
)

// New returns an unconfigured provider; Configure connects it.
func New() *Provider { return &Provider{} }

// Configure parses the config block (see Config; unknown keys are rejected), connects, checks
// the server answers and loads the Lua scripts. It may be called once. An unreachable server is
// an error wrapping storage.ErrUnavailable.
func (p *Provider) Configure(ctx context.Context, raw []byte) error {
	cfg, err := parseConfig(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", err, storage.ErrInvalid)
	}
	if p.st.Load() != nil {
		return fmt.Errorf("configure: already configured: %w", storage.ErrInvalid)
	}
	st := &state{cfg: cfg, rdb: goredis.NewClient(cfg.options())}
	cctx, cancel := context.WithTimeout(ctx, configureTimeout)
	defer cancel()
	if err := st.rdb.Ping(cctx).Err(); err != nil {
		st.rdb.Close()
		return redisErr(ctx, "configure: connect to redis at "+cfg.Addr, err)
	}
	for _, s := range []*goredis.Script{appendScript, readScript, snapshotScript} {
		if err := s.Load(cctx, st.rdb).Err(); err != nil {
			st.rdb.Close()
			return redisErr(ctx, "configure: load scripts", err)
		}
	}
	if !p.st.CompareAndSwap(nil, st) {
		st.rdb.Close()
		return fmt.Errorf("configure: already configured: %w", storage.ErrInvalid)
	}
	return nil
}

func (p *Provider) state() (*state, error) {
	st := p.st.Load()
	if st == nil {
		return nil, fmt.Errorf("redis: not configured or closed: %w", storage.ErrUnavailable)
	}
	return st, nil
}

// unavailablePrefixes are server replies that mean "not now": the call may succeed later.
var unavailablePrefixes = []string{"LOADING", "READONLY", "MASTERDOWN", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS", "OOM", "NOAUTH", "MISCONF"}

// redisErr classifies an error: the caller's context errors pass through; server replies
// saying "not now" and every transport failure (refused, reset, timeout, pool exhausted, client
// closed) wrap storage.ErrUnavailable; other server replies are system failures as they are.
func redisErr(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", what, ctxErr)
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		for _, prefix := range unavailablePrefixes {
			if goredis.HasErrorPrefix(err, prefix) {
				return fmt.Errorf("%s: %w: %w", what, err, storage.ErrUnavailable)
			}
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w: %w", what, err, storage.ErrUnavailable)
}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, goredis.ErrNoScript) || goredis.HasErrorPrefix(err, "NOSCRIPT"))
}

func formatUint(v uint64) string { return strconv.FormatUint(v, 10) }
func formatInt(v int64) string   { return strconv.FormatInt(v, 10) }

// Append implements storage.Provider. Each valid append is one call of appendScript (atomic
// and conditional on its own); all of a request's calls go in one MULTI/EXEC round trip, so the
// server runs them back to back and a connection failure applies all or none of them.
func (p *Provider) Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	errs := storage.ValidateRequest(req)
	resp := &storage.AppendResponse{Results: make([]storage.AppendResult, len(req.Appends))}
	pending := make([]int, 0, len(req.Appends))
	for i := range req.Appends {
		if errs[i] != nil {
			resp.Results[i].Err = errs[i]
			continue
		}
		pending = append(pending, i)
	}
	args := make([][]any, len(req.Appends))
	keys := make([][]string, len(req.Appends))
	for _, i := range pending {
		keys[i], args[i] = st.appendArgs(&req.Appends[i])
	}
	// A NOSCRIPT reply means the server lost its script cache (restart, SCRIPT FLUSH) and that
	// call wrote nothing: load the script and run those appends again, once.
	for attempt := 0; len(pending) > 0; attempt++ {
		cmds := make([]*goredis.Cmd, len(pending))
		_, err := st.rdb.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			for j, i := range pending {
				cmds[j] = appendScript.EvalSha(ctx, pipe, keys[i], args[i]...)
			}
			return nil
		})
		var retry []int
		for j, i := range pending {
			cerr := cmds[j].Err()
			if isNoScript(cerr) && attempt == 0 {
				retry = append(retry, i)
				continue
			}
			if cerr != nil {
				return nil, redisErr(ctx, "append "+req.Appends[i].Doc.String(), cerr)
			}
			res, perr := appendResult(&req.Appends[i], cmds[j].Val())
			if perr != nil {
				return nil, perr
			}
			resp.Results[i] = res
		}
		if err != nil && len(retry) == 0 {
			return nil, redisErr(ctx, "append", err)
		}
		if len(retry) > 0 {
			if err := appendScript.Load(ctx, st.rdb).Err(); err != nil {
				return nil, redisErr(ctx, "append: load script", err)
			}
		}
		pending = retry
	}
	return resp, nil
}

func (st *state) appendArgs(a *storage.Append) ([]string, []any) {
	k := keysFor(st.cfg.KeyPrefix, a.Doc)
	args := make([]any, 0, 5+len(a.Ops))
	args = append(args, formatInt(a.ExpectedRevision), formatUint(a.Epoch), a.Type,
		formatInt(a.ExpectedRevision+int64(len(a.Ops))), a.Doc.ID)
	for i := range a.Ops {
		args = append(args, encodeOp(&a.Ops[i]))
	}
	return []string{k.head, k.ops, k.tenant}, args
}

// appendResult turns appendScript's reply into a result.
func appendResult(a *storage.Append, reply any) (storage.AppendResult, error) {
	r, ok := reply.([]any)
	var strs []string
	if ok {
		for _, v := range r {
			s, ok := v.(string)
			if !ok {
				break
			}
			strs = append(strs, s)
		}
	}
	if len(strs) < 2 || len(strs) != len(r) {
		return storage.AppendResult{}, fmt.Errorf("append %s: unexpected script reply %v", a.Doc, reply)
	}
	rev, err := strconv.ParseInt(strs[1], 10, 64)
	if err != nil {
		return storage.AppendResult{}, fmt.Errorf("append %s: bad revision in script reply %q", a.Doc, strs[1])
	}
	res := storage.AppendResult{Revision: rev}
	switch {
	case strs[0] == "ok":
	case strs[0] == "conflict":
		res.Err = fmt.Errorf("append %s: at revision %d, expected %d: %w", a.Doc, rev, a.ExpectedRevision, storage.ErrConflict)
	case strs[0] == "fenced" && len(strs) == 3:
		res.Err = fmt.Errorf("append %s: epoch %d < %s: %w", a.Doc, a.Epoch, strs[2], storage.ErrFenced)
	default:
		return storage.AppendResult{}, fmt.Errorf("append %s: unexpected script reply %v", a.Doc, reply)
	}
	return res, nil
}

// ReadOps implements storage.Provider with one call of readScript: pages hold at most
// storage.MaxReadOps ops and about storage.MaxReadBytes of encoded ops.
func (p *Provider) ReadOps(ctx context.Context, req *storage.ReadOpsRequest) (*storage.ReadOpsResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if err := storage.ValidateKey(req.Doc); err != nil {
		return nil, err
	}
	if req.From < 1 {
		return nil, fmt.Errorf("read ops %s: from %d < 1: %w", req.Doc, req.From, storage.ErrInvalid)
	}
	resp := &storage.ReadOpsResponse{}
	if req.From > math.MaxInt64-storage.MaxReadOps || req.From > 1<<52 {
		return resp, nil // far beyond any log Redis can hold
	}
	limit := storage.ReadLimit(req.Limit)
	k := keysFor(st.cfg.KeyPrefix, req.Doc)
	cmd := readScript.Run(ctx, st.rdb, []string{k.ops}, req.From-1, limit, storage.MaxReadBytes)
	entries, err := cmd.StringSlice()
	if err != nil {
		return nil, redisErr(ctx, "read ops "+req.Doc.String(), err)
	}
	resp.Ops = make([]storage.Op, len(entries))
	for i, e := range entries {
		rev := req.From + int64(i)
		if resp.Ops[i], err = decodeOp(e, rev); err != nil {
			return nil, fmt.Errorf("read ops %s: revision %d: %w", req.Doc, rev, err)
		}
	}
	return resp, nil
}

// Load implements storage.Provider: the head and snapshot are read in one MULTI/EXEC, so they
// are consistent with each other.
func (p *Provider) Load(ctx context.Context, doc storage.DocKey) (*storage.LoadResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if err := storage.ValidateKey(doc); err != nil {
		return nil, err
	}
	k := keysFor(st.cfg.KeyPrefix, doc)
	var head, snap *goredis.SliceCmd
	_, err = st.rdb.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		head = pipe.HMGet(ctx, k.head, "type", "rev", "epoch", "snap")
		snap = pipe.HMGet(ctx, k.snap, "rev", "type", "data", "meta", "ms")
		return nil
	})
	if err != nil {
		return nil, redisErr(ctx, "load "+doc.String(), err)
	}
	h := head.Val()
	if h[1] == nil {
		return nil, fmt.Errorf("load %s: %w", doc, storage.ErrNotFound)
	}
	info, err := parseHead(doc, h)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", doc, err)
	}
	resp := &storage.LoadResponse{Info: info}
	if s := snap.Val(); s[0] != nil {
		rev, err1 := strconv.ParseInt(str(s[0]), 10, 64)
		ms, err2 := strconv.ParseInt(str(s[4]), 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("load %s: malformed snapshot: %w", doc, err)
		}
		resp.Snapshot = &storage.Snapshot{Revision: rev, Type: str(s[1]), Data: []byte(str(s[2])), Meta: []byte(str(s[3])), UnixMillis: ms}
	}
	return resp, nil
}

// parseHead decodes HMGET head type rev epoch snap.
func parseHead(doc storage.DocKey, h []any) (storage.DocInfo, error) {
	info := storage.DocInfo{Doc: doc, Type: str(h[0])}
	var err1, err2, err3 error
	info.Revision, err1 = strconv.ParseInt(str(h[1]), 10, 64)
	info.Epoch, err2 = strconv.ParseUint(str(h[2]), 10, 64)
	info.SnapshotRevision, err3 = strconv.ParseInt(str(h[3]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return info, fmt.Errorf("malformed head: %w", err)
	}
	return info, nil
}

// str is a HMGET value as a string ("" for a missing field).
func str(v any) string {
	s, _ := v.(string)
	return s
}

// PutSnapshot implements storage.Provider with one call of snapshotScript. The document must
// exist (else ErrNotFound) and the snapshot may not be ahead of its log (else ErrInvalid); an
// older snapshot is ignored.
func (p *Provider) PutSnapshot(ctx context.Context, doc storage.DocKey, snap storage.Snapshot) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	if err := storage.ValidateKey(doc); err != nil {
		return err
	}
	if snap.Revision < 0 {
		return fmt.Errorf("put snapshot %s: negative revision %d: %w", doc, snap.Revision, storage.ErrInvalid)
	}
	k := keysFor(st.cfg.KeyPrefix, doc)
	reply, err := snapshotScript.Run(ctx, st.rdb, []string{k.head, k.snap},
		formatInt(snap.Revision), snap.Type, snap.Data, snap.Meta, formatInt(snap.UnixMillis)).StringSlice()
	if err != nil {
		return redisErr(ctx, "put snapshot "+doc.String(), err)
	}
	switch {
	case len(reply) == 1 && reply[0] == "ok", len(reply) == 2 && reply[0] == "older":
		return nil
	case len(reply) == 1 && reply[0] == "notfound":
		return fmt.Errorf("put snapshot %s: %w", doc, storage.ErrNotFound)
	case len(reply) == 2 && reply[0] == "ahead":
		return fmt.Errorf("put snapshot %s: revision %d outside 0..%s: %w", doc, snap.Revision, reply[1], storage.ErrInvalid)
	}
	return fmt.Errorf("put snapshot %s: unexpected script reply %q", doc, reply)
}

// Delete implements storage.Provider: every key of the document and its index entry go in one
// MULTI/EXEC.
func (p *Provider) Delete(ctx context.Context, doc storage.DocKey) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	if err := storage.ValidateKey(doc); err != nil {
		return err
	}
	k := keysFor(st.cfg.KeyPrefix, doc)
	_, err = st.rdb.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		pipe.Del(ctx, k.head, k.ops, k.snap)
		pipe.ZRem(ctx, k.tenant, doc.ID)
		return nil
	})
	if err != nil {
		return redisErr(ctx, "delete "+doc.String(), err)
	}
	return nil
}

// List implements storage.Provider: ZRANGEBYLEX on the tenant's index, then the heads of that
// page in one MULTI/EXEC. Ids are ordered bytewise.
func (p *Provider) List(ctx context.Context, req *storage.ListRequest) (*storage.ListResponse, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	limit := storage.ListLimit(req.Limit)
	resp := &storage.ListResponse{}
	after := req.After
	// A document deleted between the index read and the head read is skipped; the loop tops
	// the page up, so a short page still means the end.
	for len(resp.Docs) < limit {
		want := limit - len(resp.Docs)
		ids, err := st.listPage(ctx, req.Tenant, after, want, &resp.Docs)
		if err != nil {
			return nil, err
		}
		if len(ids) < want {
			break
		}
		after = ids[len(ids)-1]
	}
	return resp, nil
}

// listPage reads up to n ids after after from the tenant's index and appends the heads of
// those still present to docs. It returns the ids read.
func (st *state) listPage(ctx context.Context, tenant, after string, n int, docs *[]storage.DocInfo) ([]string, error) {
	minLex := "-"
	if after != "" {
		minLex = "(" + after
	}
	ids, err := st.rdb.ZRangeByLex(ctx, tenantKey(st.cfg.KeyPrefix, tenant), &goredis.ZRangeBy{
		Min: minLex, Max: "+", Count: int64(n),
	}).Result()
	if err != nil {
		return nil, redisErr(ctx, "list "+tenant, err)
	}
	if len(ids) == 0 {
		return ids, nil
	}
	cmds := make([]*goredis.SliceCmd, len(ids))
	_, err = st.rdb.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, id := range ids {
			k := keysFor(st.cfg.KeyPrefix, storage.DocKey{Tenant: tenant, ID: id})
			cmds[i] = pipe.HMGet(ctx, k.head, "type", "rev", "epoch", "snap")
		}
		return nil
	})
	if err != nil {
		return nil, redisErr(ctx, "list "+tenant, err)
	}
	for i, id := range ids {
		h := cmds[i].Val()
		if h[1] == nil {
			continue
		}
		info, err := parseHead(storage.DocKey{Tenant: tenant, ID: id}, h)
		if err != nil {
			return nil, fmt.Errorf("list %s: %s: %w", tenant, id, err)
		}
		*docs = append(*docs, info)
	}
	return ids, nil
}

// Health implements storage.Provider: PING within 2s or the caller's earlier deadline.
func (p *Provider) Health(ctx context.Context) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	if err := st.rdb.Ping(pctx).Err(); err != nil {
		// Classified against the caller's ctx: our own timeout firing means the server is too
		// slow to answer, which is ErrUnavailable.
		return redisErr(ctx, "health: ping "+st.cfg.Addr, err)
	}
	return nil
}

// Close implements storage.Provider; later calls fail with ErrUnavailable.
func (p *Provider) Close() error {
	st := p.st.Swap(nil)
	if st == nil {
		return nil
	}
	if err := st.rdb.Close(); err != nil && !strings.Contains(err.Error(), "closed") {
		return fmt.Errorf("close redis client %s: %w", st.cfg.Addr, err)
	}
	return nil
}
