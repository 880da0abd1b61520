package host

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
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
type engineAdapter struct {
	eng     *pluginhost.Engine
	timeout time.Duration
}

func (e *engineAdapter) Empty(ctx context.Context) ([]byte, error) {
	b, err := e.eng.Empty(ctx)
	return b, engineErr(err)
}

func (e *engineAdapter) Open(ctx context.Context, snapshot []byte) (doc.State, error) {
	d, err := e.eng.Open(ctx, snapshot)
	if err != nil {
		return nil, engineErr(err)
	}
	return &docState{d: d}, nil
}

type docState struct{ d *pluginhost.Doc }

func (s *docState) Apply(ctx context.Context, op []byte, concurrent [][]byte, side int32) ([]byte, error) {
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

func (s *docState) Close(ctx context.Context) { _ = s.d.Close(ctx) }

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
