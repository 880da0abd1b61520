package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opstream/opstream/host/auth"
	"github.com/opstream/opstream/host/doc"
	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/pluginsdk/authorizer"
	"github.com/opstream/opstream/protocol"
)

func newSHA256() hash.Hash { return sha256.New() }

// engineAdapter presents a pluginhost engine as a doc.Engine, mapping guest refusals to
// InvalidOp.
// engineAdapter presents the engine of one document type as a doc.Engine. The module behind
// it can be swapped while documents are live: a document's state moves to the new module
// (snapshot out, open in) at its next call, and the old module is closed once no document uses
// it any more.
type engineAdapter struct {
	cur     atomic.Pointer[engineVersion]
	timeout time.Duration
}

// engineVersion is one loaded module of an engine, with the count of live documents on it.
type engineVersion struct {
	eng     *pluginhost.Engine
	mod     *pluginhost.Module
	open    atomic.Int64
	retired atomic.Bool
	once    sync.Once
}

// release drops one live document; the last one out of a retired version closes it.
func (v *engineVersion) release(ctx context.Context) {
	if v.open.Add(-1) == 0 && v.retired.Load() {
		v.close(ctx)
	}
}

func (v *engineVersion) close(ctx context.Context) {
	v.once.Do(func() {
		_ = v.eng.Close(ctx)
		_ = v.mod.Close(ctx)
	})
}

// swap installs a new version and retires the old one.
func (e *engineAdapter) swap(ctx context.Context, v *engineVersion) {
	old := e.cur.Swap(v)
	if old != nil {
		old.retired.Store(true)
		if old.open.Load() == 0 {
			old.close(ctx)
		}
	}
}

func (e *engineAdapter) Empty(ctx context.Context) ([]byte, error) {
	b, err := e.cur.Load().eng.Empty(ctx)
	return b, engineErr(err)
}

func (e *engineAdapter) Open(ctx context.Context, snapshot []byte) (doc.State, error) {
	v := e.cur.Load()
	v.open.Add(1)
	d, err := v.eng.Open(ctx, snapshot)
	if err != nil {
		v.release(ctx)
		return nil, engineErr(err)
	}
	return &docState{a: e, v: v, d: d}, nil
}

// docState is one live document on an engine version; the actor is its only user.
type docState struct {
	a *engineAdapter
	v *engineVersion
	d *pluginhost.Doc
}

// follow moves the document to the engine's current version if it was swapped.
func (s *docState) follow(ctx context.Context) error {
	cur := s.a.cur.Load()
	if cur == s.v {
		return nil
	}
	snap, err := s.d.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("move document to the new engine: snapshot: %w", err)
	}
	cur.open.Add(1)
	d, err := cur.eng.Open(ctx, snap)
	if err != nil {
		cur.release(ctx)
		return fmt.Errorf("move document to the new engine: open: %w", err)
	}
	_ = s.d.Close(ctx)
	s.v.release(ctx)
	s.v, s.d = cur, d
	return nil
}

func (s *docState) Apply(ctx context.Context, op []byte, concurrent [][]byte, side int32) ([]byte, error) {
	if err := s.follow(ctx); err != nil {
		return nil, err
	}
	b, err := s.d.Apply(ctx, op, concurrent, side)
	var gerr *pluginhost.GuestError
	if errors.As(err, &gerr) && errors.Is(err, pluginhost.ErrGuest) {
		// The engine failed cleanly on this op: refuse the op (so a client does not retry a
		// poison op forever) and reload the document, whose state the failure may have left
		// half-changed.
		return nil, &engineFailure{perr: &protocol.Error{Code: protocol.CodeInvalidOp, Message: "the engine failed on this op: " + gerr.Message}, err: err}
	}
	return b, engineErr(err)
}

// engineFailure is an op refused because the engine failed on it; it carries the wire error
// for the client and the engine error that makes the document reload.
type engineFailure struct {
	perr *protocol.Error
	err  error
}

func (e *engineFailure) Error() string { return e.err.Error() }
func (e *engineFailure) Unwrap() []error {
	return []error{e.perr, doc.ErrStateLost, e.err}
}

func (s *docState) Snapshot(ctx context.Context) ([]byte, error) {
	b, err := s.d.Snapshot(ctx)
	return b, engineErr(err)
}

func (s *docState) Close(ctx context.Context) {
	_ = s.d.Close(ctx)
	s.v.release(ctx)
}

// engineErr turns a guest's refusal into InvalidOp; other failures stay errors (the document
// reloads from storage).
func engineErr(err error) error {
	if err == nil {
		return nil
	}
	var gerr *pluginhost.GuestError
	if errors.As(err, &gerr) && errors.Is(err, pluginhost.ErrRejected) {
		return &protocol.Error{Code: protocol.CodeInvalidOp, Message: gerr.Message}
	}
	return fmt.Errorf("engine: %w", err)
}

// authorizerAdapter presents a pluginhost authorizer as an auth.Authorizer. The module behind it
// can be swapped while calls are in flight: calls that started keep the old one.
type authorizerAdapter struct {
	cur atomic.Pointer[loadedAuthorizer]
}

type loadedAuthorizer struct {
	a   *pluginhost.Authorizer
	mod *pluginhost.Module
}

func (a *authorizerAdapter) Authorize(ctx context.Context, req auth.Request) (auth.Decision, error) {
	d, err := a.cur.Load().a.Authorize(ctx, authorizer.Request{
		Action: req.Action, DocID: req.DocID, Token: req.Creds.Token, Headers: req.Creds.Headers,
		NowUnixMillis: req.Now.UnixMilli(),
	})
	if err != nil {
		return auth.Decision{}, err
	}
	out := auth.Decision{Access: auth.ParseAccess(d.Access), Tenant: d.Tenant, Subject: d.Subject, Reason: d.Reason}
	if d.ExpiresAtUnixMillis > 0 {
		out.Expires = time.UnixMilli(d.ExpiresAtUnixMillis)
	}
	return out, nil
}
