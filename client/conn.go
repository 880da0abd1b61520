package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/opstream/opstream/protocol"
)

// Sentinel errors callers can branch on with errors.Is.
var (
	// ErrClosed is returned once the Conn was closed with Close.
	ErrClosed = errors.New("client: connection closed")
	// ErrDisconnected is returned for a request whose connection dropped before the reply came,
	// and for everything after a drop when Options.Reconnect is off.
	ErrDisconnected = errors.New("client: disconnected")
	// ErrLeft is returned by a Doc's methods after Leave, and fails its unacknowledged ops.
	ErrLeft = errors.New("client: document left")
	// ErrReloaded fails the unacknowledged ops of a Doc whose rejoin came back with a full
	// snapshot (reload): the caller must rebuild its state from the snapshot.
	ErrReloaded = errors.New("client: document reloaded; pending op dropped")
	// ErrAlreadyJoined is returned by Join for a document this Conn has already joined.
	ErrAlreadyJoined = errors.New("client: document already joined")
)

// maxPerFrame is how many messages the writer batches into one frame at most (the protocol's
// default limit).
const maxPerFrame = 1024

// Options configure a Conn. The zero value is usable.
type Options struct {
	// Token is sent as "Authorization: Bearer TOKEN" on every dial; empty sends none.
	Token string
	// Logger receives connection events (never tokens or document contents); nil discards.
	Logger *slog.Logger
	// ClientID names this client's ops across reconnects (at most 128 characters); empty means
	// a random id. Seqs restart at 1 for each new Conn, so a fixed ClientID must not be reused
	// by a later Conn on documents it already wrote to.
	ClientID string
	// Reconnect re-dials with backoff after the connection drops, rejoins every document and
	// resubmits unacknowledged ops. Off means a drop ends the Conn (ErrDisconnected).
	Reconnect bool
	// MinBackoff is the delay before the first re-dial; zero means 100ms.
	MinBackoff time.Duration
	// MaxBackoff caps the delay between re-dials; zero means 5s.
	MaxBackoff time.Duration
	// DialTimeout bounds each re-dial; zero means 10s. The first dial is bounded by Dial's ctx.
	DialTimeout time.Duration
	// EventBuffer is the capacity of each Doc's event channel; zero means 256.
	EventBuffer int
	// ReadLimit bounds one incoming frame in bytes; zero means 64 MiB.
	ReadLimit int64
	// HTTPClient performs the WebSocket handshake; nil means http.DefaultClient.
	HTTPClient *http.Client
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ClientID == "" {
		o.ClientID = rand.Text()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 256
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 20
	}
	return o
}

// Conn is a client connection to an OpStream server. Its methods are safe for concurrent use.
type Conn struct {
	url      string
	opts     Options
	log      *slog.Logger
	clientID string
	clientQ  []byte // clientID as a JSON string

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	wake   chan struct{} // capacity 1: the writer has work

	mu        sync.Mutex
	connected bool     // a physical connection is up
	out       [][]byte // encoded messages queued for the writer
	nextRef   uint64
	waiters   map[uint64]waiter
	docs      map[string]*Doc
	seqs      map[string]uint64 // last seq used per document; survives Leave
	err       error             // why the Conn is dead; nil while usable
}

// waiter is who waits for the reply carrying a ref: a request (ch), a join (d) or a submit (p).
type waiter struct {
	ch chan reply
	d  *Doc
	p  *Pending
}

type reply struct {
	msg protocol.Message
	err error
}

// Dial connects to the server's WebSocket endpoint (for example ws://host:port/v1/ws). The
// first dial is synchronous: its failure is returned (a refusal with a JSON error body comes
// back as a wrapped *protocol.Error). ctx bounds only this dial.
func Dial(ctx context.Context, url string, opts Options) (*Conn, error) {
	opts = opts.withDefaults()
	if n := len([]rune(opts.ClientID)); n > protocol.DefaultLimits.MaxClientIDLen {
		return nil, fmt.Errorf("client: client id is %d characters, the limit is %d", n, protocol.DefaultLimits.MaxClientIDLen)
	}
	clientQ, err := json.Marshal(opts.ClientID)
	if err != nil {
		return nil, fmt.Errorf("client: encode client id: %w", err)
	}
	c := &Conn{
		url:      url,
		opts:     opts,
		log:      opts.Logger.With("component", "client", "clientId", opts.ClientID),
		clientID: opts.ClientID,
		clientQ:  clientQ,
		wake:     make(chan struct{}, 1),
		waiters:  make(map[uint64]waiter),
		docs:     make(map[string]*Doc),
		seqs:     make(map[string]uint64),
	}
	ws, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.connected = true // before Dial returns, so requests can be queued at once
	c.wg.Add(1)
	go c.run(ws)
	return c, nil
}

// ClientID returns the id this Conn stamps on every op it submits.
func (c *Conn) ClientID() string { return c.clientID }

// Close ends the connection and waits for every goroutine of the Conn to return. Joined Docs
// end with ErrClosed (their event channels are closed), unacknowledged ops fail with ErrClosed.
// Close is idempotent.
func (c *Conn) Close() error {
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	c.dieLocked(ErrClosed)
	c.mu.Unlock()
	return nil
}

// Ping sends a ping and waits for the pong: a round trip through the server's session.
func (c *Conn) Ping(ctx context.Context) error {
	_, err := c.request(ctx, func(ref uint64) []byte {
		return fmt.Appendf(nil, `{"type":"ping","ref":%d}`, ref)
	})
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Err returns why the Conn stopped working (ErrClosed, or ErrDisconnected without Reconnect),
// or nil while it is usable.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Conn) dial(ctx context.Context) (*websocket.Conn, error) {
	h := http.Header{}
	if c.opts.Token != "" {
		h.Set("Authorization", "Bearer "+c.opts.Token)
	}
	ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPHeader: h, HTTPClient: c.opts.HTTPClient})
	if err != nil {
		if perr := httpError(resp); perr != nil {
			return nil, fmt.Errorf("dial: %w", perr)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(c.opts.ReadLimit)
	return ws, nil
}

// httpError decodes the API's {"error": {"code", "message"}} body from a refused handshake.
func httpError(resp *http.Response) *protocol.Error {
	if resp == nil || resp.Body == nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	var body struct {
		Error struct {
			Code    protocol.Code `json:"code"`
			Message string        `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil || body.Error.Code == "" {
		return nil
	}
	return &protocol.Error{Code: body.Error.Code, Message: body.Error.Message}
}

// run is the supervisor: it serves each physical connection and re-dials after a drop.
func (c *Conn) run(ws *websocket.Conn) {
	defer c.wg.Done()
	for {
		err := c.serve(ws)
		if c.ctx.Err() != nil {
			return
		}
		if !c.opts.Reconnect {
			c.log.Warn("connection lost", "err", err)
			c.mu.Lock()
			c.dieLocked(fmt.Errorf("%w: %w", ErrDisconnected, err))
			c.mu.Unlock()
			return
		}
		c.log.Warn("connection lost; reconnecting", "err", err)
		if ws = c.redial(); ws == nil {
			return
		}
	}
}

// redial dials with exponential backoff and jitter until it succeeds or the Conn is closed.
func (c *Conn) redial() *websocket.Conn {
	delay := c.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		wait := delay/2 + mathrand.N(delay/2+1)
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.DialTimeout)
		ws, err := c.dial(ctx)
		cancel()
		if err == nil {
			c.log.Info("reconnected", "attempt", attempt)
			return ws
		}
		if c.ctx.Err() != nil {
			return nil
		}
		c.log.Warn("re-dial failed", "attempt", attempt, "err", err)
		delay = min(delay*2, c.opts.MaxBackoff)
	}
}

// serve runs one physical connection: it rejoins every known document, then runs the reader
// and the writer until either fails or the Conn is closed, and waits for both.
func (c *Conn) serve(ws *websocket.Conn) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	c.mu.Lock()
	c.connected = true
	for _, d := range c.docs {
		if d.joinRef == 0 { // a Join that raced the first session start already sent its join
			c.sendJoinLocked(d)
		}
	}
	c.mu.Unlock()

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errc <- c.readLoop(ctx, ws) }()
	go func() { defer wg.Done(); errc <- c.writeLoop(ctx, ws) }()

	var err error
	select {
	case err = <-errc:
		cancel()
		ws.CloseNow()
	case <-c.ctx.Done():
		err = ErrClosed
		// A normal close handshake: the reader is still reading and receives the peer's close.
		closed := make(chan struct{})
		go func() { defer close(closed); ws.Close(websocket.StatusNormalClosure, "client closed") }()
		select {
		case <-closed:
		case <-time.After(time.Second):
		}
		cancel()
		ws.CloseNow()
		<-closed
	}
	wg.Wait()

	c.mu.Lock()
	c.connected = false
	clear(c.out)
	c.out = c.out[:0]
	for ref, w := range c.waiters {
		// Joins and submits are sent again after the next connect; plain requests fail.
		if w.ch != nil {
			w.ch <- reply{err: ErrDisconnected}
		}
		delete(c.waiters, ref)
	}
	for _, d := range c.docs {
		d.live = false
		d.joinRef = 0
	}
	c.mu.Unlock()
	return err
}

// dieLocked ends the Conn for good: every Doc and waiter fails with err.
func (c *Conn) dieLocked(err error) {
	if c.err == nil {
		c.err = err
	}
	for id, d := range c.docs {
		c.endDocLocked(d, c.err)
		delete(c.docs, id)
	}
	for ref, w := range c.waiters {
		if w.ch != nil {
			w.ch <- reply{err: c.err}
		}
		delete(c.waiters, ref)
	}
}

// enqueueLocked queues one encoded message for the writer.
func (c *Conn) enqueueLocked(b []byte) {
	c.out = append(c.out, b)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Conn) newRefLocked() uint64 {
	c.nextRef++
	return c.nextRef
}

// request sends the message build returns for a fresh ref and waits for the reply with that ref.
func (c *Conn) request(ctx context.Context, build func(ref uint64) []byte) (protocol.Message, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return protocol.Message{}, err
	}
	if !c.connected {
		c.mu.Unlock()
		return protocol.Message{}, ErrDisconnected
	}
	ref := c.newRefLocked()
	ch := make(chan reply, 1)
	c.waiters[ref] = waiter{ch: ch}
	c.enqueueLocked(build(ref))
	c.mu.Unlock()

	select {
	case r := <-ch:
		return r.msg, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.waiters, ref)
		c.mu.Unlock()
		return protocol.Message{}, ctx.Err()
	}
}

// writeLoop drains the queue into one frame per wake-up (a JSON array when it holds several
// messages), so a burst costs one WebSocket frame and one flush.
func (c *Conn) writeLoop(ctx context.Context, ws *websocket.Conn) error {
	var batch [][]byte
	var frame []byte
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.wake:
		}
		c.mu.Lock()
		batch, c.out = c.out, batch[:0]
		c.mu.Unlock()
		for rest := batch; len(rest) > 0; {
			n := min(len(rest), maxPerFrame)
			chunk := rest[:n]
			rest = rest[n:]
			if n == 1 {
				frame = append(frame[:0], chunk[0]...)
			} else {
				frame = append(frame[:0], '[')
				for i, m := range chunk {
					if i > 0 {
						frame = append(frame, ',')
					}
					frame = append(frame, m...)
				}
				frame = append(frame, ']')
			}
			// No context for the write itself: serve closes ws whenever ctx ends, which ends a
			// blocked write, and a cancellable context costs coder/websocket a cancellation
			// watch armed and disarmed per call.
			if err := ws.Write(context.Background(), websocket.MessageText, frame); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		clear(batch)
		batch = batch[:0]
	}
}

// delivery is an event to hand to a Doc after the Conn's lock is released.
type delivery struct {
	d  *Doc
	ev Event
}

// readLoop decodes frames and routes their messages; events are delivered in order, outside
// the lock, blocking while a Doc's channel is full.
func (c *Conn) readLoop(ctx context.Context, ws *websocket.Conn) error {
	var buf bytes.Buffer
	var out []delivery
	for {
		typ, r, err := ws.Reader(context.Background()) // see writeLoop: serve closes ws when ctx ends
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if typ != websocket.MessageText {
			c.log.Warn("ignoring a binary frame")
			continue
		}
		msgs, err := decodeFrame(buf.Bytes())
		if err != nil {
			c.log.Warn("ignoring an undecodable frame", "err", err)
			continue
		}
		c.mu.Lock()
		for i := range msgs {
			c.handleLocked(&msgs[i], &out)
		}
		c.mu.Unlock()
		for i := range out {
			out[i].d.deliver(c.ctx, out[i].ev)
		}
		clear(out)
		out = out[:0]
	}
}

// decodeFrame splits a server frame into its messages, decoding the common ones without
// reflection (protocol.DecodeMessage).
func decodeFrame(b []byte) ([]protocol.Message, error) {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && b[0] == '[' {
		parts, ok := protocol.SplitBatch(b)
		if !ok {
			return nil, fmt.Errorf("decode frame: malformed array")
		}
		msgs := make([]protocol.Message, len(parts))
		for i, p := range parts {
			if err := protocol.DecodeMessage(p, &msgs[i]); err != nil {
				return nil, fmt.Errorf("decode frame: %w", err)
			}
		}
		return msgs, nil
	}
	msgs := make([]protocol.Message, 1)
	if err := protocol.DecodeMessage(b, &msgs[0]); err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	return msgs, nil
}

func rev(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// handleLocked routes one server message.
func (c *Conn) handleLocked(m *protocol.Message, out *[]delivery) {
	switch m.Type {
	case protocol.TypeJoined:
		if d := c.docs[m.Doc]; d != nil && m.Ref != 0 && m.Ref == d.joinRef {
			delete(c.waiters, m.Ref)
			c.joinedLocked(d, m, out)
		}
	case protocol.TypeAck:
		if d := c.docs[m.Doc]; d != nil && (m.ClientID == "" || m.ClientID == c.clientID) {
			c.ackLocked(d, m.Seq, rev(m.Revision), out)
		}
	case protocol.TypeOp:
		if d := c.docs[m.Doc]; d != nil && d.live {
			c.opLocked(d, protocol.LogOp{Revision: rev(m.Revision), Op: m.Op, ClientID: m.ClientID, Seq: m.Seq}, out)
		}
	case protocol.TypeAwareness:
		if d := c.docs[m.Doc]; d != nil && d.live && m.Peer != d.peerID {
			state := m.State
			if len(state) == 0 || string(state) == "null" {
				state = nil
				delete(d.peers, m.Peer)
			} else {
				d.peers[m.Peer] = state
			}
			*out = append(*out, delivery{d, Event{Kind: EventAwareness, Peer: m.Peer, State: state}})
		}
	case protocol.TypePeerLeft:
		if d := c.docs[m.Doc]; d != nil && d.live {
			delete(d.peers, m.Peer)
			*out = append(*out, delivery{d, Event{Kind: EventPeerLeft, Peer: m.Peer}})
		}
	case protocol.TypeError:
		c.errorLocked(m, out)
	default: // left, pong, authed and future replies
		if w, ok := c.waiters[m.Ref]; ok && m.Ref != 0 && w.ch != nil {
			delete(c.waiters, m.Ref)
			w.ch <- reply{msg: *m}
		}
	}
}

// joinedLocked applies a joined reply: the first one fills the Doc; a rejoin delivers the
// missing ops (or a reload), then resubmits unacknowledged ops and the awareness state.
func (c *Conn) joinedLocked(d *Doc, m *protocol.Message, out *[]delivery) {
	d.joinRef = 0
	r := rev(m.Revision)
	d.peerID, d.access = m.PeerID, m.Access
	first := !d.joined
	switch {
	case first:
		d.joined = true
		d.snapshot, d.snapRev, d.rev = m.Snapshot, r, r
	case m.Reload || (m.Snapshot != nil && m.Ops == nil && r != d.rev):
		c.log.Info("document reloaded", "doc", d.id, "revision", r)
		d.snapshot, d.snapRev, d.rev = m.Snapshot, r, r
		for _, p := range d.pending {
			if p.early != 0 && p.early <= r {
				// Acknowledged (held for the ops before it): the snapshot contains it.
				if p.ref != 0 {
					delete(c.waiters, p.ref)
					p.ref = 0
				}
				p.rev = p.early
				close(p.done)
				continue
			}
			c.failPendingLocked(p, ErrReloaded)
		}
		d.pending = d.pending[:0]
		*out = append(*out, delivery{d, Event{Kind: EventReload, Revision: r, Snapshot: m.Snapshot}})
	default:
		for _, op := range m.Ops {
			c.opLocked(d, op, out)
		}
		if r > d.rev {
			c.log.Warn("rejoin skipped revisions", "doc", d.id, "have", d.rev, "server", r)
			d.rev = r
		}
	}

	// Awareness: forget peers that are gone, report the live states.
	seen := make(map[string]bool, len(m.Peers))
	for _, ps := range m.Peers {
		if ps.Peer == d.peerID {
			continue
		}
		seen[ps.Peer] = true
		if old, ok := d.peers[ps.Peer]; ok && bytes.Equal(old, ps.State) {
			continue
		}
		d.peers[ps.Peer] = ps.State
		*out = append(*out, delivery{d, Event{Kind: EventAwareness, Peer: ps.Peer, State: ps.State}})
	}
	for p := range d.peers {
		if !seen[p] {
			delete(d.peers, p)
			*out = append(*out, delivery{d, Event{Kind: EventPeerLeft, Peer: p}})
		}
	}

	d.live = true
	for _, p := range d.pending {
		c.sendSubmitLocked(d, p)
	}
	if d.awareness != nil {
		c.sendAwarenessLocked(d)
	}
	if first {
		close(d.ready)
	}
}

// opLocked delivers a remote op once, in revision order. An op carrying this client's id is
// its own (seen in a rejoin's missing ops): it acknowledges the pending op instead.
func (c *Conn) opLocked(d *Doc, op protocol.LogOp, out *[]delivery) {
	if op.ClientID == c.clientID {
		c.ackLocked(d, op.Seq, op.Revision, out)
		if op.Revision == d.rev+1 { // its ack came earlier: the op is known, move past it
			d.rev = op.Revision
			c.releaseHeldLocked(d, out)
		}
		return
	}
	if op.Revision <= d.rev {
		return
	}
	if op.Revision != d.rev+1 {
		c.log.Warn("gap in op revisions", "doc", d.id, "have", d.rev, "got", op.Revision)
	}
	d.rev = op.Revision
	*out = append(*out, delivery{d, Event{Kind: EventOp, Revision: op.Revision, Op: op.Op, ClientID: op.ClientID, Seq: op.Seq}})
	c.releaseHeldLocked(d, out)
}

// ackLocked resolves the pending op with seq; a duplicate ack of a resolved op is ignored. An
// ack for a revision past the next one arrived ahead of ops this client has not seen (it was
// dropped from the document and the ops before its own were not relayed): it is held until
// those ops are delivered, by the rejoin or by the broadcast, so events stay in revision order.
func (c *Conn) ackLocked(d *Doc, seq uint64, r int64, out *[]delivery) {
	for i, p := range d.pending {
		if p.Seq != seq {
			continue
		}
		if r > d.rev+1 {
			p.early = r
			return
		}
		if r > d.rev {
			d.rev = r
		}
		d.pending = append(d.pending[:i], d.pending[i+1:]...)
		if p.ref != 0 {
			delete(c.waiters, p.ref)
		}
		p.rev = r
		close(p.done)
		*out = append(*out, delivery{d, Event{Kind: EventAck, Revision: r, ClientID: c.clientID, Seq: seq}})
		c.releaseHeldLocked(d, out)
		return
	}
}

// releaseHeldLocked delivers a held ack whose preceding ops have all been delivered now.
func (c *Conn) releaseHeldLocked(d *Doc, out *[]delivery) {
	for _, p := range d.pending {
		if p.early == d.rev+1 {
			c.ackLocked(d, p.Seq, p.early, out)
			return
		}
	}
}

// errorLocked routes an error reply to its request (by ref) and handles evictions.
func (c *Conn) errorLocked(m *protocol.Message, out *[]delivery) {
	perr := &protocol.Error{Code: m.Code, Message: m.Message}
	handled := false
	if w, ok := c.waiters[m.Ref]; ok && m.Ref != 0 {
		handled = true
		delete(c.waiters, m.Ref)
		switch {
		case w.ch != nil:
			w.ch <- reply{err: perr}
		case w.p != nil && perr.Code == protocol.CodeNotJoined && c.opts.Reconnect && !w.p.doc.live:
			// The document dropped us (its owner moved) just before this submit reached the
			// server; the rejoin under way resubmits every pending op.
			w.p.ref = 0
		case w.p != nil && (perr.Code == protocol.CodeUnavailable || perr.Code == protocol.CodeNotJoined) && c.opts.Reconnect:
			// Not applied (or not known to be): keep the op and send it again with the same
			// client id and seq, which the server deduplicates.
			w.p.ref = 0
			c.retryLocked(func() {
				d := w.p.doc
				if w.p.ref == 0 && d.live && c.docs[d.id] == d && slices.Contains(d.pending, w.p) {
					c.sendSubmitLocked(d, w.p)
				}
			})
		case w.d != nil && w.d.joined && perr.Code == protocol.CodeUnavailable && c.opts.Reconnect:
			// A rejoin the server cannot serve now (the document is moving between nodes).
			d := w.d
			d.joinRef = 0
			c.retryLocked(func() {
				if d.joinRef == 0 && !d.live && c.docs[d.id] == d && d.err == nil {
					c.sendJoinLocked(d)
				}
			})
			return
		case w.p != nil:
			d := w.p.doc
			for i, p := range d.pending {
				if p == w.p {
					d.pending = append(d.pending[:i], d.pending[i+1:]...)
					break
				}
			}
			w.p.ref = 0
			c.failPendingLocked(w.p, perr)
			*out = append(*out, delivery{d, Event{Kind: EventReject, ClientID: c.clientID, Seq: w.p.Seq, Err: perr}})
		case w.d != nil:
			d := w.d
			d.joinRef = 0
			if c.docs[d.id] == d {
				delete(c.docs, d.id)
			}
			c.endDocLocked(d, perr)
			return
		}
	}
	if m.Closed && m.Doc != "" {
		d := c.docs[m.Doc]
		if d == nil {
			return
		}
		handled = true
		d.live = false
		if c.opts.Reconnect && d.joined && d.joinRef != 0 {
			return // a rejoin is on its way; its reply decides
		}
		if c.opts.Reconnect && d.joined && d.joinRef == 0 {
			c.log.Warn("dropped from document; rejoining", "doc", d.id, "code", m.Code)
			c.sendJoinLocked(d)
			return
		}
		delete(c.docs, d.id)
		c.endDocLocked(d, fmt.Errorf("dropped from document: %w", perr))
	}
	if !handled {
		c.log.Warn("server error", "code", m.Code, "message", m.Message, "doc", m.Doc)
	}
}

// retryLocked runs fn with the lock held after a backoff, unless the Conn closed by then.
func (c *Conn) retryLocked(fn func()) {
	delay := c.opts.MinBackoff + time.Duration(mathrand.Int64N(int64(c.opts.MinBackoff)))
	time.AfterFunc(delay, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ctx.Err() != nil {
			return
		}
		fn()
	})
}

func (c *Conn) failPendingLocked(p *Pending, err error) {
	if p.ref != 0 {
		delete(c.waiters, p.ref)
		p.ref = 0
	}
	p.err = err
	close(p.done)
}

// endDocLocked ends d: its pending ops fail with err, its Done channel and event channel close.
func (c *Conn) endDocLocked(d *Doc, err error) {
	if d.err != nil {
		return
	}
	d.err = err
	d.live = false
	if d.joinRef != 0 {
		delete(c.waiters, d.joinRef)
		d.joinRef = 0
	}
	for _, p := range d.pending {
		c.failPendingLocked(p, err)
	}
	d.pending = nil
	if !d.joined {
		close(d.ready)
	}
	d.closeEvents()
}

// sendJoinLocked queues a join for d: with its last known revision when it was joined before.
func (c *Conn) sendJoinLocked(d *Doc) {
	ref := c.newRefLocked()
	d.joinRef = ref
	c.waiters[ref] = waiter{d: d}
	m := protocol.Message{Type: protocol.TypeJoin, Ref: ref, Doc: d.id, DocType: d.docType, Protocol: protocol.Version}
	if d.joined {
		m.Revision = protocol.Int64(d.rev)
	}
	b, err := json.Marshal(&m)
	if err != nil { // cannot happen: every field is a plain value
		c.log.Error("encode join", "err", err)
		return
	}
	c.enqueueLocked(b)
}

// sendSubmitLocked queues p with a fresh ref; the message is built by hand (no reflection).
func (c *Conn) sendSubmitLocked(d *Doc, p *Pending) {
	if p.ref != 0 {
		delete(c.waiters, p.ref)
	}
	p.ref = c.newRefLocked()
	c.waiters[p.ref] = waiter{p: p}
	b := make([]byte, 0, 96+len(d.idQ)+len(c.clientQ)+len(p.op))
	b = append(b, `{"type":"submit","ref":`...)
	b = strconv.AppendUint(b, p.ref, 10)
	b = append(b, `,"doc":`...)
	b = append(b, d.idQ...)
	b = append(b, `,"baseRevision":`...)
	b = strconv.AppendInt(b, p.Base, 10)
	b = append(b, `,"op":`...)
	b = append(b, p.op...)
	b = append(b, `,"clientId":`...)
	b = append(b, c.clientQ...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, p.Seq, 10)
	b = append(b, '}')
	c.enqueueLocked(b)
}

func (c *Conn) sendAwarenessLocked(d *Doc) {
	b := make([]byte, 0, 48+len(d.idQ)+len(d.awareness))
	b = append(b, `{"type":"awareness","doc":`...)
	b = append(b, d.idQ...)
	b = append(b, `,"state":`...)
	b = append(b, d.awareness...)
	b = append(b, '}')
	c.enqueueLocked(b)
}
