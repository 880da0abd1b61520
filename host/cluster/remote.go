package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/opstream/opstream/host/backplane"
	"github.com/opstream/opstream/host/doc"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// remoteHandle is a document owned by another node, as this node's sessions use it: requests
// are forwarded to the owner, replies and pushes come back through deliver.
type remoteHandle struct {
	r    *Router
	key  storage.DocKey
	node string
}

var _ doc.Handle = (*remoteHandle)(nil)

func (h *remoteHandle) request(f frame, reply func(*frame, error)) {
	r := h.r
	f.ID = r.nextID.Add(1)
	f.Tenant, f.Doc = h.key.Tenant, h.key.ID
	r.mu.Lock()
	r.pending[f.ID] = &pendingReq{node: h.node, doc: h.key, deadline: time.Now().Add(r.cfg.ForwardTimeout), reply: reply}
	r.mu.Unlock()
	r.link(h.node).push(f)
}

func (h *remoteHandle) Join(_ context.Context, peer doc.Peer, docType string, knownRev *int64, onJoin func(doc.JoinResult, error)) error {
	pk := proxyKey{peer: peer.ID(), doc: h.key}
	px := &proxied{peer: peer, owner: h.node}
	h.r.mu.Lock()
	h.r.proxies[pk] = px
	h.r.mu.Unlock()
	h.request(frame{Kind: kJoin, Peers: []string{peer.ID()}, Type: docType, Rev: knownRev}, func(f *frame, err error) {
		var jw joinWire
		if err == nil {
			err = json.Unmarshal(f.Msg, &jw)
		}
		h.r.mu.Lock()
		current := h.r.proxies[pk] == px
		replaced := !current && h.r.proxies[pk] != nil
		if err != nil && current {
			delete(h.r.proxies, pk)
		}
		h.r.mu.Unlock()
		if err == nil && !current {
			// Dropped while the join was on its way (the owner moved or a link reset): the
			// membership the owner made is not relayed, so the join did not happen here.
			err = protocol.Errorf(protocol.CodeUnavailable, "the document moved while joining; retry")
			if !replaced {
				h.r.link(h.node).push(frame{Kind: kLeave, Tenant: h.key.Tenant, Doc: h.key.ID, Peers: []string{pk.peer}})
			}
		}
		if err != nil {
			onJoin(doc.JoinResult{}, err)
			return
		}
		res := doc.JoinResult{DocType: jw.Type, Revision: jw.Rev, Snapshot: jw.Snapshot, Ops: jw.Ops, Reload: jw.Reload, Peers: jw.Peers}
		if jw.HasOps && res.Ops == nil {
			res.Ops = []protocol.LogOp{}
		}
		onJoin(res, nil)
	})
	return nil
}

func (h *remoteHandle) Leave(_ context.Context, peerID string, onLeave func()) error {
	h.r.mu.Lock()
	delete(h.r.proxies, proxyKey{peer: peerID, doc: h.key})
	h.r.mu.Unlock()
	if onLeave == nil {
		h.r.link(h.node).push(frame{Kind: kLeave, Tenant: h.key.Tenant, Doc: h.key.ID, Peers: []string{peerID}})
		return nil
	}
	h.request(frame{Kind: kLeave, Peers: []string{peerID}}, func(*frame, error) { onLeave() })
	return nil
}

func (h *remoteHandle) Submit(ctx context.Context, s doc.SubmitRequest, onSubmit func(doc.SubmitResult, error)) error {
	f := frame{Kind: kSubmit, Type: s.DocType, Peers: []string{s.Author},
		Submit: &submitWire{Base: s.BaseRevision, Op: s.Op, ClientID: s.ClientID, Seq: s.Seq}}
	if s.SpanContext.IsValid() {
		f.Trace = traceparent(s.SpanContext)
		if t := h.r.cfg.Tracer; t.Enabled() {
			_, f.span = t.Start(trace.ContextWithSpanContext(ctx, s.SpanContext), telemetry.SpanBackplanePublish)
		}
	}
	h.request(f, func(f *frame, err error) {
		var sw submitResultWire
		if err == nil {
			err = json.Unmarshal(f.Msg, &sw)
		}
		if err != nil {
			onSubmit(doc.SubmitResult{}, err)
			return
		}
		onSubmit(doc.SubmitResult{Revision: sw.Rev, Op: sw.Op, Duplicate: sw.Duplicate, Transforms: sw.Transforms}, nil)
	})
	return nil
}

func (h *remoteHandle) SetAwareness(_ context.Context, peerID string, state json.RawMessage) error {
	h.r.link(h.node).push(frame{Kind: kAwareness, Tenant: h.key.Tenant, Doc: h.key.ID, Peers: []string{peerID}, Msg: state})
	return nil
}

func (h *remoteHandle) Read(_ context.Context, onRead func(doc.ReadResult, error)) error {
	h.request(frame{Kind: kRead}, func(f *frame, err error) {
		var rw readWire
		if err == nil {
			err = json.Unmarshal(f.Msg, &rw)
		}
		if err != nil {
			onRead(doc.ReadResult{}, err)
			return
		}
		onRead(doc.ReadResult{DocType: rw.Type, Revision: rw.Rev, Snapshot: rw.Snapshot}, nil)
	})
	return nil
}

// deliver handles one batch published to this node, frame by frame in order.
func (r *Router) deliver(m backplane.Message) {
	var b batch
	if err := json.Unmarshal(m.Payload, &b); err != nil {
		r.log.Error("undecodable batch from the backplane", "err", err)
		return
	}
	r.mu.Lock()
	last, seen := r.lastSeq[b.From]
	r.lastSeq[b.From] = b.Seq
	r.mu.Unlock()
	if seen && b.Seq != last+1 {
		r.log.Warn("messages from a node were lost; resetting what goes through it", "node", b.From, "expected", last+1, "got", b.Seq)
		r.forgetNode(b.From)
		r.mu.Lock()
		r.lastSeq[b.From] = b.Seq
		r.mu.Unlock()
	}
	for i := range b.Frames {
		f := &b.Frames[i]
		switch f.Kind {
		case kJoin, kLeave, kSubmit, kAwareness, kRead, kEvict:
			r.serve(b.From, f)
		case kReply:
			r.mu.Lock()
			p, ok := r.pending[f.ID]
			delete(r.pending, f.ID)
			r.mu.Unlock()
			if !ok {
				continue // timed out already
			}
			if f.Err != nil {
				if f.Owner != "" {
					r.remember(p.doc, f.Owner)
				} else {
					r.forgetOwner(p.doc)
				}
				p.reply(f, f.Err.err())
				continue
			}
			p.reply(f, nil)
		case kPeerMsg:
			key := storage.DocKey{Tenant: f.Tenant, ID: f.Doc}
			for _, peer := range f.Peers {
				pk := proxyKey{peer: peer, doc: key}
				r.mu.Lock()
				px, ok := r.proxies[pk]
				r.mu.Unlock()
				if !ok {
					continue
				}
				if !px.peer.Send(f.Msg) {
					r.dropProxies(func(k proxyKey, p *proxied) bool { return k == pk && p == px },
						protocol.Errorf(protocol.CodeSlowConsumer, "peer cannot keep up; rejoin with your revision to catch up"))
				}
			}
		case kDropped:
			key := storage.DocKey{Tenant: f.Tenant, ID: f.Doc}
			if len(f.Peers) == 0 || f.Err == nil {
				continue
			}
			pk := proxyKey{peer: f.Peers[0], doc: key}
			r.mu.Lock()
			px, ok := r.proxies[pk]
			delete(r.proxies, pk)
			r.mu.Unlock()
			if ok {
				px.peer.Dropped(key, f.Err.err())
			}
		default:
			r.log.Warn("unknown frame kind from the backplane", "kind", f.Kind, "node", b.From)
		}
	}
}

// remotePeer is a peer of another node joined to a document this node owns.
type remotePeer struct {
	r    *Router
	node string
	peer string
	key  storage.DocKey
}

var _ doc.Peer = (*remotePeer)(nil)

func (p *remotePeer) ID() string { return p.peer }

func (p *remotePeer) Send(msg []byte) bool {
	return p.r.link(p.node).pushPeerMsg(p.key.Tenant, p.key.ID, p.peer, msg)
}

func (p *remotePeer) Dropped(key storage.DocKey, err *protocol.Error) {
	rk := remoteKey{node: p.node, peer: p.peer, doc: p.key}
	p.r.mu.Lock()
	if p.r.remotes[rk] == p {
		delete(p.r.remotes, rk)
	}
	p.r.mu.Unlock()
	p.r.link(p.node).push(frame{Kind: kDropped, Tenant: key.Tenant, Doc: key.ID, Peers: []string{p.peer}, Err: toWire(err)})
}

// leave removes the peer from its document without telling its node (which is gone or reset).
func (p *remotePeer) leave() {
	if !p.r.reg.IsLoaded(p.key) {
		return
	}
	ctx, cancel := context.WithTimeout(p.r.ctx, p.r.cfg.ForwardTimeout)
	defer cancel()
	_ = p.r.reg.Route(ctx, p.key, func(h doc.Handle) error { return h.Leave(ctx, p.peer, nil) })
}

// serve handles a request forwarded by node from for a document this node should own.
func (r *Router) serve(from string, f *frame) {
	key := storage.DocKey{Tenant: f.Tenant, ID: f.Doc}
	peer := ""
	if len(f.Peers) > 0 {
		peer = f.Peers[0]
	}
	rk := remoteKey{node: from, peer: peer, doc: key}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.ForwardTimeout)
	defer cancel()
	reply := func(msg any, err error) {
		out := frame{Kind: kReply, ID: f.ID, Err: toWire(err)}
		if err == nil && msg != nil {
			b, merr := json.Marshal(msg)
			if merr != nil {
				out.Err = toWire(fmt.Errorf("encode reply: %w", merr))
			}
			out.Msg = b
		}
		if err != nil {
			out.Owner = r.ownerHint(key)
		}
		r.link(from).push(out)
	}
	switch f.Kind {
	case kEvict:
		// Waits for the actor to stop: off the subscriber goroutine.
		perr := protocol.Errorf(protocol.CodeUnavailable, "document evicted by its owner")
		if f.Err != nil {
			perr = f.Err.err()
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			ectx, cancel := context.WithTimeout(r.ctx, r.cfg.ForwardTimeout)
			defer cancel()
			n, err := r.reg.EvictWait(ectx, key, perr)
			reply(n, err)
		}()
		return
	case kLeave:
		r.mu.Lock()
		delete(r.remotes, rk)
		r.mu.Unlock()
		if !r.reg.IsLoaded(key) {
			if f.ID != 0 {
				reply(nil, nil)
			}
			return
		}
		err := r.reg.Route(ctx, key, func(h doc.Handle) error {
			return h.Leave(ctx, peer, func() {
				if f.ID != 0 {
					reply(nil, nil)
				}
			})
		})
		if err != nil && f.ID != 0 {
			reply(nil, nil)
		}
		return
	case kAwareness:
		r.mu.Lock()
		_, ok := r.remotes[rk]
		r.mu.Unlock()
		if ok {
			_ = r.reg.Route(ctx, key, func(h doc.Handle) error { return h.SetAwareness(ctx, peer, f.Msg) })
		}
		return
	}
	if err := r.ensureOwned(ctx, key); err != nil {
		reply(nil, err)
		return
	}
	var err error
	switch f.Kind {
	case kJoin:
		rp := &remotePeer{r: r, node: from, peer: peer, key: key}
		r.mu.Lock()
		r.remotes[rk] = rp
		r.mu.Unlock()
		err = r.reg.Route(ctx, key, func(h doc.Handle) error {
			return h.Join(ctx, rp, f.Type, f.Rev, func(res doc.JoinResult, err error) {
				if err != nil {
					r.mu.Lock()
					if r.remotes[rk] == rp {
						delete(r.remotes, rk)
					}
					r.mu.Unlock()
					reply(nil, err)
					return
				}
				reply(joinWire{Type: res.DocType, Rev: res.Revision, Snapshot: res.Snapshot, Ops: res.Ops,
					HasOps: res.Ops != nil, Reload: res.Reload, Peers: res.Peers}, nil)
			})
		})
		if err != nil {
			r.mu.Lock()
			if r.remotes[rk] == rp {
				delete(r.remotes, rk)
			}
			r.mu.Unlock()
		}
	case kSubmit:
		if f.Submit == nil {
			reply(nil, protocol.Errorf(protocol.CodeInvalidMessage, "forwarded submit without an op"))
			return
		}
		s := doc.SubmitRequest{DocType: f.Type, BaseRevision: f.Submit.Base, Op: f.Submit.Op,
			ClientID: f.Submit.ClientID, Seq: f.Submit.Seq, Author: peer}
		if f.Trace != "" {
			s.SpanContext = parseTraceparent(f.Trace)
		}
		err = r.reg.Route(ctx, key, func(h doc.Handle) error {
			return h.Submit(ctx, s, func(res doc.SubmitResult, err error) {
				if err != nil {
					reply(nil, err)
					return
				}
				reply(submitResultWire{Rev: res.Revision, Op: res.Op, Duplicate: res.Duplicate, Transforms: res.Transforms}, nil)
			})
		})
	case kRead:
		err = r.reg.Route(ctx, key, func(h doc.Handle) error {
			return h.Read(ctx, func(res doc.ReadResult, err error) {
				if err != nil {
					reply(nil, err)
					return
				}
				reply(readWire{Type: res.DocType, Rev: res.Revision, Snapshot: res.Snapshot}, nil)
			})
		})
	}
	if err != nil {
		reply(nil, asProtocol(err))
	}
}

// ensureOwned makes sure this node owns key, taking the lease when it is free: a node that
// forwards a request here (its cached owner, or its hash placement) expects this node to serve.
func (r *Router) ensureOwned(ctx context.Context, key storage.DocKey) error {
	r.mu.Lock()
	ok := r.reachable && time.Now().Before(r.validUntil)
	if l, owned := r.owned[key]; owned && ok {
		l.lastUsed = time.Now()
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	if !ok {
		return errUnavailable
	}
	node, err := r.acquire(ctx, key, 0)
	if err != nil {
		return err
	}
	if node != r.self {
		return protocol.Errorf(protocol.CodeUnavailable, "document moved to another node; retry")
	}
	return nil
}

func (r *Router) ownerHint(key storage.DocKey) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.owners[key]; ok {
		return c.node
	}
	return ""
}

func asProtocol(err error) *protocol.Error {
	if errors.Is(err, doc.ErrShuttingDown) || errors.Is(err, doc.ErrClosed) {
		return protocol.Errorf(protocol.CodeUnavailable, "owner node is shutting down; retry")
	}
	return protocol.AsError(err)
}
