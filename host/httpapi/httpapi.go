// Package httpapi holds OpStream's HTTP routes: the REST API under /v1/docs, the WebSocket
// endpoint /v1/ws, the health probes, GET /metrics and the management API under /v1/admin
// (admin.go). Handlers return errors; one adapter (writeError) turns
// them into a status code and {"error":{"code","message"}}.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/propagation"

	"github.com/opstream/opstream/host/auth"
	"github.com/opstream/opstream/host/demo"
	"github.com/opstream/opstream/host/doc"
	"github.com/opstream/opstream/host/session"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// Reader is the part of storage the read routes use directly.
type Reader interface {
	ReadOps(ctx context.Context, req *storage.ReadOpsRequest) (*storage.ReadOpsResponse, error)
	Load(ctx context.Context, doc storage.DocKey) (*storage.LoadResponse, error)
}

// Config configures the routes.
type Config struct {
	Session session.Config
	// PassHeaders are the request headers handed to the authorizer (lower case).
	PassHeaders []string
	// OriginPatterns are the extra origins allowed to open WebSockets (coder/websocket patterns);
	// same-origin is always allowed.
	OriginPatterns []string
	// RequestTimeout bounds one REST request; zero means 30s.
	RequestTimeout time.Duration
	// Health reports every check for GET /health; nil serves only the probes.
	Health func(ctx context.Context) HealthReport
	// Metrics, when set, serves GET /metrics (Prometheus text).
	Metrics http.Handler
	// Demo serves the demo page at / and its assets under /demo/ (package host/demo).
	Demo bool
	// Tracer starts the opstream.session.apply_op span of ops posted over HTTP; nil means none.
	Tracer *telemetry.Tracer
	// Propagator reads a request's traceparent, so its op joins the caller's trace and its
	// logs carry the caller's trace id; nil means none.
	Propagator propagation.TextMapPropagator
	// Telemetry counts refused ops; nil means none.
	Telemetry *telemetry.Metrics
	// Admin serves the management API under /v1/admin; nil answers every request there with
	// Forbidden.
	Admin Admin
}

// HealthReport is GET /health: every check with its details, and what an operator should fix.
type HealthReport struct {
	// Status is "ok", "degraded" (serving, but on a development default or a risky setup) or
	// "unavailable" (a check failed; /health/ready says the same).
	Status   string        `json:"status"`
	Node     string        `json:"node"`
	Checks   []HealthCheck `json:"checks"`
	Warnings []string      `json:"warnings,omitempty"`
}

// HealthCheck is one dependency's state.
type HealthCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// API serves the routes. Close waits for the WebSocket sessions to end.
type API struct {
	cfg     Config
	docs    doc.Router
	store   Reader
	checker *auth.Checker
	ready   func(ctx context.Context) error
	log     *slog.Logger
	nodeID  string

	base     context.Context
	stop     context.CancelFunc
	sessions sync.WaitGroup
	nextPeer atomic.Uint64
	conns    atomic.Int64
}

// Connections returns the number of open WebSocket connections.
func (a *API) Connections() int64 { return a.conns.Load() }

// New returns the API. ready reports whether the server can take ops (storage reachable).
// nodeID prefixes peer ids.
func New(cfg Config, docs doc.Router, store Reader, checker *auth.Checker, ready func(ctx context.Context) error, nodeID string, log *slog.Logger) *API {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, stop := context.WithCancel(context.Background())
	return &API{cfg: cfg, docs: docs, store: store, checker: checker, ready: ready, nodeID: nodeID,
		log: log.With("component", "http"), base: base, stop: stop}
}

// Handler returns the router.
func (a *API) Handler() http.Handler {
	r := chi.NewRouter()
	r.Get("/health/live", a.handle(a.live))
	r.Get("/health/ready", a.handle(a.readyz))
	r.Get("/health", a.handle(a.health))
	r.Get("/v1/ws", a.serveWS)
	r.Get("/v1/docs/{id}", a.handle(a.getDoc))
	r.Get("/v1/docs/{id}/ops", a.handle(a.getOps))
	r.Post("/v1/docs/{id}/ops", a.handle(a.postOp))
	if a.cfg.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", a.cfg.Metrics)
	}
	if a.cfg.Demo {
		r.Method(http.MethodGet, "/", demo.Handler())
		r.Method(http.MethodGet, demo.Prefix+"*", demo.Handler())
	}
	r.Get("/v1/admin/docs", a.handle(a.adminList))
	r.Get("/v1/admin/docs/{id}/diag", a.handle(a.adminDiag))
	r.Delete("/v1/admin/docs/{id}", a.handle(a.adminDelete))
	r.NotFound(a.handle(func(w http.ResponseWriter, r *http.Request) error {
		return protocol.Errorf(protocol.CodeNotFound, "no route %s %s", r.Method, r.URL.Path)
	}))
	r.MethodNotAllowed(a.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{status: http.StatusMethodNotAllowed, err: protocol.Errorf(protocol.CodeInvalidMessage, "method %s not allowed on %s", r.Method, r.URL.Path)}
	}))
	return r
}

// Close ends every WebSocket session (documents are told they left) and waits for them.
func (a *API) Close(ctx context.Context) error {
	a.stop()
	done := make(chan struct{})
	go func() {
		a.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close sessions: %w", ctx.Err())
	}
}

type httpError struct {
	status int
	err    *protocol.Error
}

func (e *httpError) Error() string { return e.err.Error() }

func (a *API) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// writeError is the one place errors become HTTP responses.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		herr   *httpError
		perr   *protocol.Error
		status int
	)
	switch {
	case errors.As(err, &herr):
		perr, status = herr.err, herr.status
	case errors.As(err, &perr):
		status = perr.Code.HTTPStatus()
	case errors.Is(err, doc.ErrShuttingDown), errors.Is(err, doc.ErrClosed):
		perr = protocol.Errorf(protocol.CodeUnavailable, "server is shutting down")
		status = http.StatusServiceUnavailable
	case errors.Is(err, storage.ErrUnavailable):
		perr = protocol.Errorf(protocol.CodeUnavailable, "storage unavailable; retry")
		status = http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		perr = protocol.Errorf(protocol.CodeUnavailable, "request timed out")
		status = http.StatusServiceUnavailable
	default:
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		perr = protocol.Errorf(protocol.CodeInternal, "internal error")
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": perr.Code, "message": perr.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *API) live(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	return nil
}

func (a *API) health(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Health == nil {
		return protocol.Errorf(protocol.CodeNotFound, "no health report on this server")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	rep := a.cfg.Health(ctx)
	status := http.StatusOK
	if rep.Status == "unavailable" {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rep)
	return nil
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	return nil
}

func credentials(r *http.Request, pass []string) auth.Credentials {
	c := auth.Credentials{}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		c.Token = strings.TrimSpace(h[len("Bearer "):])
	} else if t := r.URL.Query().Get("token"); t != "" {
		c.Token = t
	}
	for _, name := range pass {
		if v := r.Header.Get(name); v != "" {
			if c.Headers == nil {
				c.Headers = make(map[string]string)
			}
			c.Headers[strings.ToLower(name)] = v
		}
	}
	return c
}

// authorize checks the caller's access to a document and returns its key.
func (a *API) authorize(r *http.Request, docID, action string, need auth.Access) (storage.DocKey, error) {
	if err := protocol.ValidateDocID(docID, a.cfg.Session.Limits); err != nil {
		return storage.DocKey{}, err
	}
	dec := a.checker.Check(r.Context(), credentials(r, a.cfg.PassHeaders), docID, action)
	if dec.Access < need {
		return storage.DocKey{}, protocol.Errorf(protocol.CodeForbidden, "%s access to %q is not granted: %s", need, docID, dec.Reason)
	}
	return storage.DocKey{Tenant: dec.Tenant, ID: docID}, nil
}

func (a *API) getDoc(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	key, err := a.authorize(r, id, auth.ActionRead, auth.Read)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	type result struct {
		res doc.ReadResult
		err error
	}
	ch := make(chan result, 1)
	err = a.docs.Route(ctx, key, func(d doc.Handle) error {
		return d.Read(ctx, func(res doc.ReadResult, err error) { ch <- result{res, err} })
	})
	if err != nil {
		return err
	}
	select {
	case res := <-ch:
		if res.err != nil {
			return res.err
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "type": res.res.DocType, "revision": res.res.Revision, "snapshot": res.res.Snapshot})
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

const maxOpsPage = 10000

func (a *API) getOps(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	key, err := a.authorize(r, id, auth.ActionRead, auth.Read)
	if err != nil {
		return err
	}
	from, limit := int64(1), maxOpsPage
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = strconv.ParseInt(v, 10, 64); err != nil || from < 0 {
			return protocol.Errorf(protocol.CodeInvalidMessage, "from must be a revision (a whole number)")
		}
		if from == 0 {
			from = 1
		}
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return protocol.Errorf(protocol.CodeInvalidMessage, "limit must be a positive whole number")
		}
		limit = min(n, maxOpsPage)
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	page, err := a.store.ReadOps(ctx, &storage.ReadOpsRequest{Doc: key, From: from, Limit: limit})
	if err != nil {
		return fmt.Errorf("read ops: %w", err)
	}
	if len(page.Ops) == 0 {
		if _, err := a.store.Load(ctx, key); errors.Is(err, storage.ErrNotFound) {
			return protocol.Errorf(protocol.CodeNotFound, "no document %q", id)
		} else if err != nil {
			return fmt.Errorf("load document: %w", err)
		}
	}
	ops := make([]protocol.LogOp, len(page.Ops))
	for i, op := range page.Ops {
		ops[i] = protocol.LogOp{Revision: op.Revision, Op: op.Data, ClientID: op.ClientID, Seq: op.Seq}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ops": ops})
	return nil
}

type postOpRequest struct {
	Type         string          `json:"type"`
	BaseRevision *int64          `json:"baseRevision"`
	Op           json.RawMessage `json:"op"`
	ClientID     string          `json:"clientId"`
	Seq          uint64          `json:"seq"`
}

func (a *API) postOp(w http.ResponseWriter, r *http.Request) error {
	id := chi.URLParam(r, "id")
	lim := a.cfg.Session.Limits.WithDefaults()
	r.Body = http.MaxBytesReader(w, r.Body, int64(lim.MaxMessageBytes()))
	var req postOpRequest
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return protocol.Errorf(protocol.CodeTooLarge, "request body is over %d bytes", tooBig.Limit)
		}
		return protocol.Errorf(protocol.CodeInvalidMessage, "request body is not valid: %v", err)
	}
	if err := protocol.ValidateDocType(req.Type, lim); err != nil {
		return err
	}
	if err := protocol.ValidateSubmit(req.BaseRevision, req.Op, req.ClientID, req.Seq, lim); err != nil {
		return err
	}
	ctx := r.Context()
	if a.cfg.Propagator != nil {
		ctx = a.cfg.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := a.cfg.Tracer.Start(ctx, telemetry.SpanApplyOp)
	defer span.End()
	telemetry.SetOpAttributes(span, id, "", len(req.Op), *req.BaseRevision)
	telemetry.SetEngine(span, req.Type)
	reject := func(err error) error {
		code := protocol.CodeUnavailable
		var perr *protocol.Error
		if errors.As(err, &perr) {
			code = perr.Code
		}
		telemetry.SetStatus(span, string(code), nil)
		a.cfg.Telemetry.OpRejected(ctx, string(code))
		return err
	}
	key, err := a.authorize(r, id, auth.ActionWrite, auth.Write)
	if err != nil {
		return reject(err)
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	type result struct {
		res doc.SubmitResult
		err error
	}
	ch := make(chan result, 1)
	sreq := doc.SubmitRequest{DocType: req.Type, BaseRevision: *req.BaseRevision, Op: req.Op, ClientID: req.ClientID, Seq: req.Seq,
		SpanContext: span.SpanContext()}
	err = a.docs.Route(ctx, key, func(d doc.Handle) error {
		return d.Submit(ctx, sreq, func(res doc.SubmitResult, err error) { ch <- result{res, err} })
	})
	if err != nil {
		return reject(err)
	}
	select {
	case res := <-ch:
		if res.err != nil {
			return reject(res.err)
		}
		telemetry.SetNewRevision(span, res.res.Revision)
		telemetry.SetTransforms(span, res.res.Transforms)
		out := map[string]any{"revision": res.res.Revision, "op": res.res.Op}
		if res.res.Duplicate {
			out["duplicate"] = true
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	case <-ctx.Done():
		return reject(ctx.Err())
	}
}

func (a *API) serveWS(w http.ResponseWriter, r *http.Request) {
	if a.base.Err() != nil {
		a.writeError(w, r, doc.ErrShuttingDown)
		return
	}
	creds := credentials(r, a.cfg.PassHeaders)
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:  a.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept wrote the response
	}
	a.sessions.Add(1)
	defer a.sessions.Done()
	a.conns.Add(1)
	defer a.conns.Add(-1)
	id := a.nodeID + "-" + strconv.FormatUint(a.nextPeer.Add(1), 36)
	session.Serve(a.base, conn, id, creds, a.cfg.Session, session.Deps{Docs: a.docs, Checker: a.checker, Log: a.log,
		Tracer: a.cfg.Tracer, Metrics: a.cfg.Telemetry})
}
