// Package session runs one WebSocket connection speaking protocol v1.
//
// A session owns two goroutines: the reader (Serve's own goroutine), which decodes frames and
// hands requests to documents, and the writer, which drains the bounded outbox into frames (all
// queued messages go out as one frame, a JSON array). Documents reply through callbacks that only
// queue messages, so a slow connection never blocks a document: when the outbox is full the
// document drops the peer and the connection is closed with SlowConsumer.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/opstream/opstream/host/auth"
	"github.com/opstream/opstream/host/doc"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// Config tunes sessions. Zero fields take the defaults in their comments.
type Config struct {
	Limits protocol.Limits
	// OutboxMessages bounds the messages queued for one connection; zero means 8192.
	OutboxMessages int
	// OutboxBytes bounds the bytes queued for one connection; zero means 32 MiB.
	OutboxBytes int
	// OpsPerSecond is the sustained op rate allowed per connection; zero means 5000.
	OpsPerSecond float64
	// OpsBurst is the op burst allowed per connection; zero means 10000.
	OpsBurst float64
	// WriteTimeout bounds writing one frame; zero means 10s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings an idle connection; zero means 30s.
	PingInterval time.Duration
	// AuthRecheck is how often memberships whose decision lapsed are checked again; zero means 5s.
	AuthRecheck time.Duration
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.OutboxMessages <= 0 {
		c.OutboxMessages = 8192
	}
	if c.OutboxBytes <= 0 {
		c.OutboxBytes = 32 << 20
	}
	if c.OpsPerSecond <= 0 {
		c.OpsPerSecond = 5000
	}
	if c.OpsBurst <= 0 {
		c.OpsBurst = 10000
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.AuthRecheck <= 0 {
		c.AuthRecheck = 5 * time.Second
	}
	return c
}

// Deps are what a session talks to.
type Deps struct {
	Docs    doc.Router
	Checker *auth.Checker
	Log     *slog.Logger
	// Tracer starts each submitted op's opstream.session.apply_op span; nil means none.
	Tracer *telemetry.Tracer
	// Metrics counts refused ops; nil means none.
	Metrics *telemetry.Metrics
}

// Session is one connection.
type Session struct {
	id    string
	conn  *websocket.Conn
	cfg   Config
	deps  Deps
	log   *slog.Logger
	out   *outbox
	limit *rateLimiter

	mu      sync.Mutex
	creds   auth.Credentials
	members map[string]*member // by document id
	closing *protocol.Error
	cancel  context.CancelFunc
}

type member struct {
	s       *Session
	docID   string
	key     storage.DocKey
	d       doc.Handle
	docType string
	access  auth.Access
	decided time.Time
	dec     auth.Decision
	joined  bool
}

func (m *member) ID() string { return m.s.id }

func (m *member) Send(msg []byte) bool { return m.s.out.push(msg) }

func (m *member) Dropped(_ storage.DocKey, err *protocol.Error) {
	m.s.mu.Lock()
	if m.s.members[m.docID] == m {
		delete(m.s.members, m.docID)
	}
	m.s.mu.Unlock()
	if err.Code == protocol.CodeSlowConsumer {
		m.s.closeWith(err)
		return
	}
	m.s.sendError(0, m.docID, err, true)
}

// Serve runs a session on an accepted connection until it ends. id is the server-assigned peer
// id.
func Serve(ctx context.Context, conn *websocket.Conn, id string, creds auth.Credentials, cfg Config, deps Deps) {
	cfg = cfg.withDefaults()
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &Session{
		id: id, conn: conn, cfg: cfg, deps: deps, creds: creds, cancel: cancel,
		log:     log.With("component", "session", "peer", id),
		out:     newOutbox(cfg.OutboxMessages, cfg.OutboxBytes),
		limit:   newRateLimiter(cfg.OpsPerSecond, cfg.OpsBurst),
		members: make(map[string]*member),
	}
	conn.SetReadLimit(cfg.Limits.MaxFrameBytes())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.writeLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		s.recheckLoop(ctx)
	}()
	// Reads take no context (see readLoop): the session ending closes the connection instead,
	// which ends a read in progress, as coder/websocket itself would on the context's end.
	stopClose := context.AfterFunc(ctx, func() { conn.CloseNow() })
	err := s.readLoop(ctx)
	stopClose()
	s.leaveAll()
	cancel()
	s.out.close()
	wg.Wait()
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	switch {
	case closing != nil:
		conn.Close(websocket.StatusPolicyViolation, truncate(string(closing.Code)+": "+closing.Message, 120))
	case websocket.CloseStatus(err) == websocket.StatusMessageTooBig:
		conn.Close(websocket.StatusMessageTooBig, "TooLarge: frame over the limit")
	default:
		conn.Close(websocket.StatusNormalClosure, "")
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// closeWith ends the connection with a reason (slow consumer, ...).
func (s *Session) closeWith(err *protocol.Error) {
	s.mu.Lock()
	if s.closing == nil {
		s.closing = err
	}
	s.mu.Unlock()
	s.cancel()
}

func (s *Session) readLoop(ctx context.Context) error {
	for {
		// With a cancellable context coder/websocket arms and disarms a cancellation watch
		// (context.AfterFunc) on every read; Serve closes the connection when ctx ends instead.
		typ, data, err := s.conn.Read(context.Background())
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			s.sendError(0, "", protocol.Errorf(protocol.CodeInvalidMessage, "binary frames are not part of protocol v1"), false)
			continue
		}
		if len(data) > s.cfg.Limits.MaxMessageBytes() {
			s.sendError(0, "", protocol.Errorf(protocol.CodeTooLarge, "frame is %d bytes, the limit is %d", len(data), s.cfg.Limits.MaxMessageBytes()), false)
			continue
		}
		for _, m := range protocol.DecodeFrame(data, s.cfg.Limits) {
			if m.Err != nil {
				s.sendError(m.Msg.Ref, m.Msg.Doc, m.Err, false)
				continue
			}
			s.handle(ctx, &m.Msg)
		}
	}
}

func (s *Session) handle(ctx context.Context, m *protocol.Message) {
	switch m.Type {
	case protocol.TypeJoin:
		s.join(ctx, m)
	case protocol.TypeSubmit:
		s.submit(ctx, m)
	case protocol.TypeAwareness:
		s.awareness(ctx, m)
	case protocol.TypeLeave:
		s.leave(ctx, m)
	case protocol.TypePing:
		s.send(&protocol.Message{Type: protocol.TypePong, Ref: m.Ref})
	case protocol.TypeAuth:
		s.mu.Lock()
		old := s.creds
		s.creds.Token = m.Token
		for _, mb := range s.members {
			mb.decided = time.Time{}
		}
		s.mu.Unlock()
		s.deps.Checker.Forget(old)
		s.recheck(ctx)
		s.send(&protocol.Message{Type: protocol.TypeAuthed, Ref: m.Ref})
	}
}

func (s *Session) join(ctx context.Context, m *protocol.Message) {
	s.mu.Lock()
	creds := s.creds
	s.mu.Unlock()
	dec := s.deps.Checker.Check(ctx, creds, m.Doc, auth.ActionJoin)
	if dec.Access < auth.Read {
		s.sendError(m.Ref, m.Doc, protocol.Errorf(protocol.CodeForbidden, "no access to %q: %s", m.Doc, dec.Reason), false)
		return
	}
	key := storage.DocKey{Tenant: dec.Tenant, ID: m.Doc}
	mb := &member{s: s, docID: m.Doc, key: key, docType: m.DocType, access: dec.Access, decided: s.deps.Checker.Now(), dec: dec}
	s.mu.Lock()
	if old, ok := s.members[m.Doc]; ok && old.d != nil {
		s.mu.Unlock()
		s.sendError(m.Ref, m.Doc, protocol.Errorf(protocol.CodeInvalidMessage, "already joined %q; leave first", m.Doc), false)
		return
	}
	s.members[m.Doc] = mb
	s.mu.Unlock()
	ref, docID := m.Ref, m.Doc
	err := s.deps.Docs.Route(ctx, key, func(d doc.Handle) error {
		s.mu.Lock()
		mb.d = d
		s.mu.Unlock()
		return d.Join(ctx, mb, m.DocType, m.Revision, func(res doc.JoinResult, err error) {
			if err != nil {
				s.forget(mb)
				s.sendError(ref, docID, protocol.AsError(err), false)
				return
			}
			s.send(&protocol.Message{
				Type: protocol.TypeJoined, Ref: ref, Doc: docID, DocType: res.DocType,
				Revision: protocol.Int64(res.Revision), PeerID: s.id, Snapshot: res.Snapshot,
				Ops: res.Ops, Reload: res.Reload, Access: mb.access.String(), Peers: res.Peers,
			})
		})
	})
	if err != nil {
		s.forget(mb)
		s.sendError(ref, docID, asProtocolError(err), false)
	}
}

func (s *Session) forget(mb *member) {
	s.mu.Lock()
	if s.members[mb.docID] == mb {
		delete(s.members, mb.docID)
	}
	s.mu.Unlock()
}

// memberFor returns the membership for a document, re-checking its authorization when the
// cached decision lapsed. When it refuses, it has told the client and returns nil.
func (s *Session) memberFor(ctx context.Context, ref uint64, docID, action string, need auth.Access) *member {
	mb, _ := s.memberOrRefusal(ctx, ref, docID, action, need)
	return mb
}

// memberOrRefusal is memberFor that also returns the code it refused with.
func (s *Session) memberOrRefusal(ctx context.Context, ref uint64, docID, action string, need auth.Access) (*member, protocol.Code) {
	s.mu.Lock()
	mb, ok := s.members[docID]
	creds := s.creds
	s.mu.Unlock()
	if !ok || mb.d == nil {
		s.sendError(ref, docID, protocol.Errorf(protocol.CodeNotJoined, "join %q first", docID), false)
		return nil, protocol.CodeNotJoined
	}
	now := s.deps.Checker.Now()
	if !s.deps.Checker.Valid(mb.dec, mb.decided, now) {
		dec := s.deps.Checker.Check(ctx, creds, docID, action)
		s.mu.Lock()
		mb.dec, mb.decided, mb.access = dec, now, dec.Access
		s.mu.Unlock()
		if dec.Access < auth.Read {
			s.revoke(ctx, mb, dec)
			return nil, protocol.CodeForbidden
		}
	}
	if mb.access < need {
		s.sendError(ref, docID, protocol.Errorf(protocol.CodeForbidden, "%s access to %q is not granted (you have %s)", need, docID, mb.access), false)
		return nil, protocol.CodeForbidden
	}
	return mb, ""
}

// revoke drops a membership whose access was withdrawn.
func (s *Session) revoke(ctx context.Context, mb *member, dec auth.Decision) {
	s.forget(mb)
	_ = mb.d.Leave(ctx, s.id, nil)
	s.sendError(0, mb.docID, protocol.Errorf(protocol.CodeForbidden, "access to %q was withdrawn: %s", mb.docID, dec.Reason), true)
}

func (s *Session) submit(ctx context.Context, m *protocol.Message) {
	// One opstream.session.apply_op span per op, from arrival to the ack or the refusal; with
	// tracing off ctx is unchanged and span a no-op.
	ctx, span := s.deps.Tracer.Start(ctx, telemetry.SpanApplyOp)
	telemetry.SetOpAttributes(span, m.Doc, s.id, len(m.Op), *m.BaseRevision)
	mb, code := s.memberOrRefusal(ctx, m.Ref, m.Doc, auth.ActionWrite, auth.Write)
	if mb == nil {
		s.rejected(ctx, span, code)
		return
	}
	if !s.limit.allow(time.Now()) {
		s.sendError(m.Ref, m.Doc, protocol.Errorf(protocol.CodeRateLimited, "over %.0f ops/s on this connection", s.cfg.OpsPerSecond), false)
		s.rejected(ctx, span, protocol.CodeRateLimited)
		return
	}
	if mb.docType != "" {
		telemetry.SetEngine(span, mb.docType)
	}
	ref, docID, clientID, seq := m.Ref, m.Doc, m.ClientID, m.Seq
	req := doc.SubmitRequest{DocType: mb.docType, BaseRevision: *m.BaseRevision, Op: m.Op, ClientID: m.ClientID, Seq: m.Seq, Author: s.id,
		SpanContext: span.SpanContext()}
	err := mb.d.Submit(ctx, req, func(res doc.SubmitResult, err error) {
		if err != nil {
			perr := protocol.AsError(err)
			s.sendError(ref, docID, perr, false)
			s.rejected(ctx, span, perr.Code)
			return
		}
		s.out.push(ackMessage(ref, docID, res.Revision, clientID, seq, res.Duplicate))
		telemetry.SetNewRevision(span, res.Revision)
		telemetry.SetTransforms(span, res.Transforms)
		span.End()
	})
	if err != nil {
		perr := asProtocolError(err)
		s.sendError(ref, docID, perr, false)
		s.rejected(ctx, span, perr.Code)
	}
}

// rejected ends a refused op's span and counts the refusal.
func (s *Session) rejected(ctx context.Context, span trace.Span, code protocol.Code) {
	telemetry.SetStatus(span, string(code), nil)
	span.End()
	s.deps.Metrics.OpRejected(ctx, string(code))
}

func ackMessage(ref uint64, docID string, rev int64, clientID string, seq uint64, dup bool) []byte {
	b := make([]byte, 0, 96+len(docID)+len(clientID))
	b = append(b, `{"type":"ack","ref":`...)
	b = strconv.AppendUint(b, ref, 10)
	b = append(b, `,"doc":`...)
	b = appendJSON(b, docID)
	b = append(b, `,"revision":`...)
	b = strconv.AppendInt(b, rev, 10)
	b = append(b, `,"clientId":`...)
	b = appendJSON(b, clientID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	if dup {
		b = append(b, `,"duplicate":true`...)
	}
	return append(b, '}')
}

func appendJSON(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (s *Session) awareness(ctx context.Context, m *protocol.Message) {
	mb := s.memberFor(ctx, m.Ref, m.Doc, auth.ActionAwareness, auth.Read)
	if mb == nil {
		return
	}
	if err := mb.d.SetAwareness(ctx, s.id, m.State); err != nil {
		s.sendError(m.Ref, m.Doc, asProtocolError(err), false)
	}
}

func (s *Session) leave(ctx context.Context, m *protocol.Message) {
	s.mu.Lock()
	mb, ok := s.members[m.Doc]
	if ok {
		delete(s.members, m.Doc)
	}
	s.mu.Unlock()
	if !ok || mb.d == nil {
		s.sendError(m.Ref, m.Doc, protocol.Errorf(protocol.CodeNotJoined, "not joined to %q", m.Doc), false)
		return
	}
	ref, docID := m.Ref, m.Doc
	if err := mb.d.Leave(ctx, s.id, func() {
		s.send(&protocol.Message{Type: protocol.TypeLeft, Ref: ref, Doc: docID})
	}); err != nil {
		s.send(&protocol.Message{Type: protocol.TypeLeft, Ref: ref, Doc: docID})
	}
}

// leaveAll removes the session from every document when the connection ends.
func (s *Session) leaveAll() {
	s.mu.Lock()
	members := s.members
	s.members = make(map[string]*member)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, mb := range members {
		if mb.d != nil {
			_ = mb.d.Leave(ctx, s.id, nil)
		}
	}
}

// recheckLoop re-asks the authorizer for memberships whose decision lapsed, so a revoked or
// expired peer loses a document even when it only listens; it also pings the connection.
func (s *Session) recheckLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.AuthRecheck)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.recheck(ctx)
			if now.Sub(lastPing) >= s.cfg.PingInterval {
				lastPing = now
				pctx, cancel := context.WithTimeout(ctx, s.cfg.PingInterval)
				err := s.conn.Ping(pctx)
				cancel()
				if err != nil && ctx.Err() == nil {
					s.log.Debug("ping failed; closing", "err", err)
					s.cancel()
					return
				}
			}
		}
	}
}

func (s *Session) recheck(ctx context.Context) {
	now := s.deps.Checker.Now()
	s.mu.Lock()
	var lapsed []*member
	for _, mb := range s.members {
		if mb.d != nil && !s.deps.Checker.Valid(mb.dec, mb.decided, now) {
			lapsed = append(lapsed, mb)
		}
	}
	creds := s.creds
	s.mu.Unlock()
	for _, mb := range lapsed {
		dec := s.deps.Checker.Check(ctx, creds, mb.docID, auth.ActionRead)
		s.mu.Lock()
		mb.dec, mb.decided, mb.access = dec, now, dec.Access
		s.mu.Unlock()
		if dec.Access < auth.Read {
			s.revoke(ctx, mb, dec)
		}
	}
}

func (s *Session) send(m *protocol.Message) {
	b, err := json.Marshal(m)
	if err != nil {
		s.log.Error("encode message", "type", m.Type, "err", err)
		return
	}
	if !s.out.push(b) {
		s.closeWith(protocol.Errorf(protocol.CodeSlowConsumer, "outbox full"))
	}
}

func (s *Session) sendError(ref uint64, docID string, err *protocol.Error, closed bool) {
	s.send(&protocol.Message{Type: protocol.TypeError, Ref: ref, Doc: docID, Code: err.Code, Message: err.Message, Closed: closed})
}

// asProtocolError maps errors from the document layer to wire errors.
func asProtocolError(err error) *protocol.Error {
	var perr *protocol.Error
	switch {
	case errors.As(err, &perr):
		return perr
	case errors.Is(err, doc.ErrShuttingDown), errors.Is(err, doc.ErrClosed):
		return protocol.Errorf(protocol.CodeUnavailable, "server is shutting down; reconnect")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return protocol.Errorf(protocol.CodeUnavailable, "request timed out")
	}
	return protocol.Errorf(protocol.CodeInternal, "internal error")
}

func (s *Session) writeLoop(ctx context.Context) {
	var frame []byte
	// A write that takes longer than WriteTimeout closes the connection. One timer, reset per
	// frame, instead of a context with a deadline per frame: that (and the watch coder/websocket
	// sets up for a cancellable context) cost ~4% of the server's CPU at 20,000 ops/s. The
	// session ending closes the connection through the reader, which ends a write in progress.
	watchdog := time.AfterFunc(time.Hour, func() {
		s.log.Debug("write timed out; closing")
		s.conn.CloseNow()
	})
	watchdog.Stop()
	defer watchdog.Stop()
	for {
		msgs, ok := s.out.wait(ctx)
		if !ok {
			return
		}
		frame = frame[:0]
		if len(msgs) == 1 {
			frame = append(frame, msgs[0]...)
		} else {
			frame = append(frame, '[')
			for i, m := range msgs {
				if i > 0 {
					frame = append(frame, ',')
				}
				frame = append(frame, m...)
			}
			frame = append(frame, ']')
		}
		watchdog.Reset(s.cfg.WriteTimeout)
		err := s.conn.Write(context.Background(), websocket.MessageText, frame)
		watchdog.Stop()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Debug("write failed; closing", "err", err)
			}
			s.cancel()
			return
		}
		if cap(frame) > 1<<20 {
			frame = nil // do not pin a huge buffer for an idle connection
		}
	}
}

// outbox is a bounded queue of encoded messages.
type outbox struct {
	mu       sync.Mutex
	msgs     [][]byte
	spare    [][]byte
	bytes    int
	max      int
	maxBytes int
	closed   bool
	signal   chan struct{}
}

func newOutbox(max, maxBytes int) *outbox {
	return &outbox{max: max, maxBytes: maxBytes, signal: make(chan struct{}, 1)}
}

// push queues msg; false when the outbox is full or closed.
func (o *outbox) push(msg []byte) bool {
	o.mu.Lock()
	if o.closed || len(o.msgs) >= o.max || o.bytes+len(msg) > o.maxBytes {
		o.mu.Unlock()
		return false
	}
	o.msgs = append(o.msgs, msg)
	o.bytes += len(msg)
	o.mu.Unlock()
	select {
	case o.signal <- struct{}{}:
	default:
	}
	return true
}

// wait returns everything queued, blocking until there is something; false once closed and
// drained.
func (o *outbox) wait(ctx context.Context) ([][]byte, bool) {
	for {
		o.mu.Lock()
		if len(o.msgs) > 0 {
			msgs := o.msgs
			o.msgs = o.spare[:0]
			o.spare = msgs
			o.bytes = 0
			o.mu.Unlock()
			return msgs, true
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-o.signal:
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.signal <- struct{}{}:
	default:
	}
}

// rateLimiter is a token bucket.
type rateLimiter struct {
	rate, burst, tokens float64
	last                time.Time
}

func newRateLimiter(rate, burst float64) *rateLimiter {
	return &rateLimiter{rate: rate, burst: burst, tokens: burst}
}

func (r *rateLimiter) allow(now time.Time) bool {
	if !r.last.IsZero() {
		r.tokens += now.Sub(r.last).Seconds() * r.rate
		if r.tokens > r.burst {
			r.tokens = r.burst
		}
	}
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}

// String describes the session for logs.
func (s *Session) String() string { return fmt.Sprintf("session %s", s.id) }
