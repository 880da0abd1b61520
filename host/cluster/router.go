// Package cluster routes documents across OpStream nodes that share a backplane: each document
// has one owner node holding a lease (with a fencing epoch that storage checks); a peer on any
// other node joins and submits through its node, which forwards to the owner over the backplane
// and relays acks, ops and awareness back in the owner's order.
//
// On the owner, a forwarded peer is an ordinary doc.Peer whose messages are queued on the link
// to its node, so the actor's ordering (acks and broadcasts released in revision order once
// durable) holds for remote peers exactly as for local ones.
package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opstream/opstream/host/backplane"
	"github.com/opstream/opstream/host/doc"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// Config tunes routing. Zero fields take the defaults in their comments.
type Config struct {
	// LeaseTTL is the ownership lease time to live; it is renewed every LeaseTTL/3. A dead
	// owner's documents move after at most LeaseTTL. Zero means 5s.
	LeaseTTL time.Duration
	// ForwardTimeout bounds a forwarded request's round trip; zero means 5s.
	ForwardTimeout time.Duration
	// Placement is "first" (the first node to load a document owns it, the default) or "hash"
	// (rendezvous hashing over the live nodes, so documents spread evenly).
	Placement string
	// LinkQueueBytes bounds the peer messages queued for one node; zero means 64 MiB.
	LinkQueueBytes int
	// Tracer starts the opstream.backplane.publish span of a traced forwarded submit; nil
	// means none. Forwarded submits carry their trace context (W3C traceparent) either way.
	Tracer *telemetry.Tracer
}

func (c Config) withDefaults() Config {
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 5 * time.Second
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = 5 * time.Second
	}
	if c.Placement == "" {
		c.Placement = "first"
	}
	if c.LinkQueueBytes <= 0 {
		c.LinkQueueBytes = 64 << 20
	}
	return c
}

// Hooks let the server observe routing (metrics); every field is optional.
type Hooks struct {
	LeaseAcquired func()
	LeaseLost     func()
	Publish       func(d time.Duration, err error)
}

// ErrUnavailable is what requests get while ownership cannot be trusted (the backplane is
// unreachable for longer than a lease).
var errUnavailable = protocol.Errorf(protocol.CodeUnavailable, "the cluster backplane is unreachable; retry")

type ownedLease struct {
	epoch    uint64
	lastUsed time.Time
	acquired time.Time
}

type ownerCache struct {
	node string
	at   time.Time
}

// proxyKey names a local peer's membership in a document owned elsewhere.
type proxyKey struct {
	peer string
	doc  storage.DocKey
}

type proxied struct {
	peer  doc.Peer
	owner string
}

// remoteKey names a peer of another node joined to a document this node owns.
type remoteKey struct {
	node string
	peer string
	doc  storage.DocKey
}

type pendingReq struct {
	node     string
	doc      storage.DocKey
	deadline time.Time
	reply    func(f *frame, err error)
}

// Router implements doc.Router across a cluster.
type Router struct {
	cfg   Config
	bp    backplane.Backplane
	reg   *doc.Registry
	log   *slog.Logger
	hooks Hooks
	self  string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	nextID atomic.Uint64

	mu         sync.Mutex
	owned      map[storage.DocKey]*ownedLease
	owners     map[storage.DocKey]ownerCache
	validUntil time.Time // leases may be trusted until then
	reachable  bool
	nodes      map[string]bool
	nodeList   []string
	links      map[string]*link
	pending    map[uint64]*pendingReq
	proxies    map[proxyKey]*proxied
	remotes    map[remoteKey]*remotePeer
	lastSeq    map[string]uint64
	lastSeen   map[string]time.Time // when each node was last in the live set
	closed     bool
}

// New returns a router over bp for the documents in reg. Start must be called before use;
// reg's EpochFor and OnFenced hooks must call the router's (see EpochFor, OnFenced).
func New(cfg Config, bp backplane.Backplane, reg *doc.Registry, hooks Hooks, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Router{
		cfg: cfg.withDefaults(), bp: bp, reg: reg, hooks: hooks, self: bp.Self(),
		log: log.With("component", "cluster"), ctx: ctx, cancel: cancel,
		owned: make(map[storage.DocKey]*ownedLease), owners: make(map[storage.DocKey]ownerCache),
		nodes: map[string]bool{bp.Self(): true}, links: make(map[string]*link),
		pending: make(map[uint64]*pendingReq), proxies: make(map[proxyKey]*proxied),
		remotes: make(map[remoteKey]*remotePeer), lastSeq: make(map[string]uint64),
		lastSeen: make(map[string]time.Time),
	}
}

// SetRegistry sets the registry when it had to be built after the router (its hooks call the
// router). It must be called before Start.
func (r *Router) SetRegistry(reg *doc.Registry) { r.reg = reg }

// Self is this node's id on the backplane.
func (r *Router) Self() string { return r.self }

// Start subscribes to this node's channel and starts lease upkeep. It returns once the
// subscription is confirmed and the first refresh is done, or fails when ctx ends first.
func (r *Router) Start(ctx context.Context) error {
	ready := make(chan struct{})
	var once sync.Once
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.bp.Subscribe(r.ctx, r.deliver, r.resetAll, func() { once.Do(func() { close(ready) }) })
		if err != nil && r.ctx.Err() == nil {
			r.log.Error("backplane subscription ended", "err", err)
		}
	}()
	wait := time.NewTimer(2 * r.cfg.LeaseTTL)
	defer wait.Stop()
	select {
	case <-ready:
	case <-wait.C:
		// Serve anyway: readiness stays false and requests get Unavailable until the backplane
		// answers, so an orchestrator can start nodes in any order.
		r.log.Error("backplane subscription not confirmed yet; the node is not ready until it is")
	case <-ctx.Done():
		r.cancel()
		r.wg.Wait()
		return fmt.Errorf("subscribe to the backplane: %w", ctx.Err())
	}
	rctx, cancel := context.WithTimeout(ctx, r.cfg.LeaseTTL/3)
	r.refresh(rctx)
	cancel()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.upkeep()
	}()
	return nil
}

// Available reports whether the node can take requests: its leases are trustworthy.
func (r *Router) Available() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reachable && time.Now().Before(r.validUntil)
}

// Route implements doc.Router.
func (r *Router) Route(ctx context.Context, key storage.DocKey, fn func(doc.Handle) error) error {
	node, err := r.ownerOf(ctx, key)
	if err != nil {
		return err
	}
	if node == r.self {
		return r.reg.Route(ctx, key, fn)
	}
	return fn(&remoteHandle{r: r, key: key, node: node})
}

// ownerOf returns the node that should serve key, acquiring the lease when it is free (and this
// node is the preferred place for it).
func (r *Router) ownerOf(ctx context.Context, key storage.DocKey) (string, error) {
	now := time.Now()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return "", doc.ErrShuttingDown
	}
	if !r.reachable || !now.Before(r.validUntil) {
		r.mu.Unlock()
		return "", errUnavailable
	}
	if l, ok := r.owned[key]; ok {
		l.lastUsed = now
		r.mu.Unlock()
		return r.self, nil
	}
	if c, ok := r.owners[key]; ok && now.Sub(c.at) < r.cfg.LeaseTTL && r.nodes[c.node] {
		r.mu.Unlock()
		return c.node, nil
	}
	preferred := r.self
	if r.cfg.Placement == "hash" {
		preferred = rendezvous(key.String(), r.nodeList, r.self)
	}
	r.mu.Unlock()

	if preferred != r.self {
		o, err := r.bp.Lookup(ctx, key.String())
		if err != nil {
			return "", protocol.Errorf(protocol.CodeUnavailable, "find the document's owner: %v", err)
		}
		node := o.Node
		if node == "" {
			node = preferred // it acquires the lease when our request reaches it
		}
		r.remember(key, node)
		return node, nil
	}
	return r.acquire(ctx, key, 0)
}

// acquire takes key's lease unless another node holds it and returns the owner.
func (r *Router) acquire(ctx context.Context, key storage.DocKey, minEpoch uint64) (string, error) {
	o, err := r.bp.Acquire(ctx, key.String(), r.cfg.LeaseTTL, minEpoch)
	if err != nil {
		return "", protocol.Errorf(protocol.CodeUnavailable, "acquire the document's lease: %v", err)
	}
	if o.Node == "" {
		return "", protocol.Errorf(protocol.CodeUnavailable, "the document's lease moved while it was acquired; retry")
	}
	if o.Node != r.self {
		r.remember(key, o.Node)
		return o.Node, nil
	}
	now := time.Now()
	r.mu.Lock()
	l, ok := r.owned[key]
	if !ok {
		l = &ownedLease{acquired: now}
		r.owned[key] = l
	}
	newLease := !ok || l.epoch != o.Epoch
	l.epoch, l.lastUsed = o.Epoch, now
	delete(r.owners, key)
	r.mu.Unlock()
	if newLease {
		r.log.Debug("lease acquired", "doc", key.String(), "epoch", o.Epoch)
		if r.hooks.LeaseAcquired != nil {
			r.hooks.LeaseAcquired()
		}
	}
	return r.self, nil
}

func (r *Router) remember(key storage.DocKey, node string) {
	r.mu.Lock()
	r.owners[key] = ownerCache{node: node, at: time.Now()}
	r.mu.Unlock()
}

func (r *Router) forgetOwner(key storage.DocKey) {
	r.mu.Lock()
	delete(r.owners, key)
	r.mu.Unlock()
}

// EpochFor is the registry's EpochFor hook: the fencing epoch of this node's lease on key,
// raised above stored when storage has seen a newer epoch than Redis remembers.
func (r *Router) EpochFor(ctx context.Context, key storage.DocKey, stored uint64) (uint64, error) {
	r.mu.Lock()
	l, ok := r.owned[key]
	var epoch uint64
	if ok {
		epoch = l.epoch
	}
	r.mu.Unlock()
	if !ok {
		return 0, protocol.Errorf(protocol.CodeUnavailable, "this node no longer owns the document; retry")
	}
	if epoch >= stored {
		return epoch, nil
	}
	node, err := r.acquire(ctx, key, stored+1)
	if err != nil {
		return 0, err
	}
	if node != r.self {
		return 0, protocol.Errorf(protocol.CodeUnavailable, "the document moved to another node; retry")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.owned[key]; ok && l.epoch > stored {
		return l.epoch, nil
	}
	return 0, protocol.Errorf(protocol.CodeUnavailable, "the document moved to another node; retry")
}

// OnFenced is the registry's OnFenced hook: a newer owner appended, so the lease is gone.
func (r *Router) OnFenced(key storage.DocKey) {
	r.mu.Lock()
	_, ok := r.owned[key]
	delete(r.owned, key)
	r.mu.Unlock()
	if ok && r.hooks.LeaseLost != nil {
		r.hooks.LeaseLost()
	}
}

// upkeep refreshes leases every LeaseTTL/3 and times out forwarded requests.
func (r *Router) upkeep() {
	period := r.cfg.LeaseTTL / 3
	refresh := time.NewTicker(period)
	defer refresh.Stop()
	sweep := time.NewTicker(100 * time.Millisecond)
	defer sweep.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-refresh.C:
			ctx, cancel := context.WithTimeout(r.ctx, period)
			r.refresh(ctx)
			cancel()
		case now := <-sweep.C:
			r.expirePending(now)
		}
	}
}

// refresh renews this node's leases, checks the owners of documents it forwards to and the
// live nodes, releases leases of documents no longer loaded, and gives up everything when the
// backplane was unreachable for longer than a lease.
func (r *Router) refresh(ctx context.Context) {
	start := time.Now()
	r.mu.Lock()
	var renew []backplane.Lease
	var renewKeys []storage.DocKey
	var release []backplane.Lease
	var releaseKeys []storage.DocKey
	for k, l := range r.owned {
		if start.Sub(l.lastUsed) > r.cfg.LeaseTTL && start.Sub(l.acquired) > r.cfg.LeaseTTL && !r.reg.IsLoaded(k) {
			release = append(release, backplane.Lease{Doc: k.String(), Epoch: l.epoch})
			releaseKeys = append(releaseKeys, k)
			continue
		}
		renew = append(renew, backplane.Lease{Doc: k.String(), Epoch: l.epoch})
		renewKeys = append(renewKeys, k)
	}
	for _, k := range releaseKeys {
		delete(r.owned, k)
	}
	watchSet := make(map[storage.DocKey]string)
	for pk, p := range r.proxies {
		watchSet[pk.doc] = p.owner
	}
	r.mu.Unlock()
	watch := make([]string, 0, len(watchSet))
	watchKeys := make([]storage.DocKey, 0, len(watchSet))
	for k := range watchSet {
		watch = append(watch, k.String())
		watchKeys = append(watchKeys, k)
	}

	if len(release) > 0 {
		if err := r.bp.Release(ctx, release); err != nil {
			r.log.Warn("release idle leases", "err", err)
		}
	}
	res, err := r.bp.Refresh(ctx, backplane.RefreshRequest{TTL: r.cfg.LeaseTTL, Renew: renew, Watch: watch})
	if err != nil {
		r.mu.Lock()
		wasReachable := r.reachable
		expired := !start.Before(r.validUntil)
		if expired {
			r.reachable = false
		}
		r.mu.Unlock()
		if expired && wasReachable {
			r.log.Error("backplane unreachable for longer than the lease TTL; giving up every document until it returns", "err", err)
			r.loseAll()
		} else if !expired {
			r.log.Warn("backplane refresh failed; leases still valid", "err", err, "until", r.validUntilTime())
		}
		return
	}
	lost := make([]storage.DocKey, 0, len(res.Lost))
	r.mu.Lock()
	if !r.reachable && !r.validUntil.IsZero() {
		r.log.Info("backplane reachable again")
	}
	r.reachable = true
	// A lease renewed at start lives until start+TTL in Redis; stop trusting it a fifth earlier
	// so a slow clock or a late refresh never overlaps a successor.
	r.validUntil = start.Add(r.cfg.LeaseTTL * 4 / 5)
	for _, i := range res.Lost {
		k := renewKeys[i]
		if l, ok := r.owned[k]; ok && l.epoch == renew[i].Epoch {
			delete(r.owned, k)
			lost = append(lost, k)
		}
	}
	// A node counts as gone only after missing from the live set for a whole TTL: right after
	// Redis lost its data (a restart) the set is empty until every node's next renewal.
	for _, n := range res.Nodes {
		r.lastSeen[n] = start
	}
	r.nodes = make(map[string]bool, len(r.lastSeen))
	r.nodeList = r.nodeList[:0]
	for n, seen := range r.lastSeen {
		if start.Sub(seen) > r.cfg.LeaseTTL {
			delete(r.lastSeen, n)
			continue
		}
		r.nodes[n] = true
		r.nodeList = append(r.nodeList, n)
	}
	var moved []storage.DocKey
	for i, k := range watchKeys {
		o := res.Owners[i]
		if o.Node != watchSet[k] {
			moved = append(moved, k)
			delete(r.owners, k)
		}
	}
	var deadNodes []string
	for n := range r.links {
		if !r.nodes[n] {
			deadNodes = append(deadNodes, n)
		}
	}
	r.mu.Unlock()

	for _, k := range lost {
		r.log.Warn("ownership lease lost; document evicted", "doc", k.String())
		if r.hooks.LeaseLost != nil {
			r.hooks.LeaseLost()
		}
		r.reg.Evict(k, protocol.Errorf(protocol.CodeUnavailable, "document moved to another node; rejoin"))
	}
	for _, k := range moved {
		r.dropProxies(func(pk proxyKey, _ *proxied) bool { return pk.doc == k },
			protocol.Errorf(protocol.CodeUnavailable, "the document's owner node changed; rejoin"))
	}
	for _, n := range deadNodes {
		r.log.Warn("node gone; forgetting its peers", "node", n)
		r.forgetNode(n)
	}
}

func (r *Router) validUntilTime() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.validUntil
}

// loseAll gives up every lease and forwarded membership: ownership cannot be trusted.
func (r *Router) loseAll() {
	r.mu.Lock()
	keys := make([]storage.DocKey, 0, len(r.owned))
	for k := range r.owned {
		keys = append(keys, k)
	}
	r.owned = make(map[storage.DocKey]*ownedLease)
	r.owners = make(map[storage.DocKey]ownerCache)
	r.mu.Unlock()
	for _, k := range keys {
		if r.hooks.LeaseLost != nil {
			r.hooks.LeaseLost()
		}
		r.reg.Evict(k, protocol.Errorf(protocol.CodeUnavailable, "the cluster backplane is unreachable; rejoin"))
	}
	r.resetAll()
}

// resetAll runs when messages between nodes may have been lost: every forwarded membership
// and request is failed so that clients rejoin with their revision, and remote peers are
// dropped so their nodes do the same.
func (r *Router) resetAll() {
	r.dropProxies(func(proxyKey, *proxied) bool { return true },
		protocol.Errorf(protocol.CodeUnavailable, "connection between nodes was reset; rejoin"))
	r.failPending(func(*pendingReq) bool { return true })
	r.mu.Lock()
	var remotes []*remotePeer
	for k, rp := range r.remotes {
		remotes = append(remotes, rp)
		delete(r.remotes, k)
	}
	r.lastSeq = make(map[string]uint64)
	r.mu.Unlock()
	for _, rp := range remotes {
		rp.leave()
	}
}

// forgetNode drops what this node holds for a node that died or lost messages: its peers
// leave the documents owned here, and requests forwarded to it fail.
func (r *Router) forgetNode(node string) {
	r.mu.Lock()
	var remotes []*remotePeer
	for k, rp := range r.remotes {
		if k.node == node {
			remotes = append(remotes, rp)
			delete(r.remotes, k)
		}
	}
	if l, ok := r.links[node]; ok && !r.nodes[node] {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		delete(r.links, node)
	}
	delete(r.lastSeq, node)
	for k, c := range r.owners {
		if c.node == node {
			delete(r.owners, k)
		}
	}
	r.mu.Unlock()
	for _, rp := range remotes {
		rp.leave()
	}
	r.dropProxies(func(_ proxyKey, p *proxied) bool { return p.owner == node },
		protocol.Errorf(protocol.CodeUnavailable, "the document's owner node is gone; rejoin"))
	r.failPending(func(p *pendingReq) bool { return p.node == node })
}

func (r *Router) dropProxies(match func(proxyKey, *proxied) bool, err *protocol.Error) {
	type drop struct {
		k proxyKey
		p *proxied
	}
	var drops []drop
	r.mu.Lock()
	for k, p := range r.proxies {
		if match(k, p) {
			drops = append(drops, drop{k, p})
			delete(r.proxies, k)
		}
	}
	r.mu.Unlock()
	for _, d := range drops {
		d.p.peer.Dropped(d.k.doc, err)
		// Tell the owner, in case it still counts the peer.
		r.link(d.p.owner).push(frame{Kind: kLeave, Tenant: d.k.doc.Tenant, Doc: d.k.doc.ID, Peers: []string{d.k.peer}})
	}
}

func (r *Router) failPending(match func(*pendingReq) bool) {
	var fails []*pendingReq
	r.mu.Lock()
	for id, p := range r.pending {
		if match(p) {
			fails = append(fails, p)
			delete(r.pending, id)
		}
	}
	r.mu.Unlock()
	for _, p := range fails {
		r.forgetOwner(p.doc)
		p.reply(nil, protocol.Errorf(protocol.CodeUnavailable, "the document's owner node did not answer; retry"))
	}
}

func (r *Router) expirePending(now time.Time) {
	r.failPending(func(p *pendingReq) bool { return now.After(p.deadline) })
}

// link returns the outbound link to node, starting it on first use.
func (r *Router) link(node string) *link {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.links[node]
	if !ok {
		l = newLink(r, node)
		r.links[node] = l
		if !r.closed {
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				l.run(r.ctx)
			}()
		}
	}
	return l
}

func (r *Router) observePublish(d time.Duration, err error) {
	if r.hooks.Publish != nil {
		r.hooks.Publish(d, err)
	}
}

// EvictWait stops the document wherever it is loaded, dropping its peers with err (an
// administrative delete): on this node, or on its owner through the backplane. It returns the
// number of peers dropped on the owner.
func (r *Router) EvictWait(ctx context.Context, key storage.DocKey, err *protocol.Error) (int, error) {
	local, lerr := r.reg.EvictWait(ctx, key, err)
	if lerr != nil {
		return local, lerr
	}
	o, berr := r.bp.Lookup(ctx, key.String())
	if berr != nil {
		return local, fmt.Errorf("find the owner of %s: %w", key, berr)
	}
	if o.Node == "" || o.Node == r.self {
		return local, nil
	}
	done := make(chan struct{})
	var (
		n    int
		rerr error
	)
	h := &remoteHandle{r: r, key: key, node: o.Node}
	h.request(frame{Kind: kEvict, Err: toWire(err)}, func(f *frame, ferr error) {
		defer close(done)
		if rerr = ferr; ferr == nil {
			rerr = json.Unmarshal(f.Msg, &n)
		}
	})
	select {
	case <-done:
		return local + n, rerr
	case <-ctx.Done():
		return local, fmt.Errorf("evict %s on its owner: %w", key, ctx.Err())
	}
}

// Owned returns how many leases this node holds.
func (r *Router) Owned() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.owned)
}

// Close hands this node's documents over: call it after the registry closed (appends flushed,
// final snapshots written); it releases every lease so other nodes take over at once, and
// stops the router's goroutines.
func (r *Router) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	leases := make([]backplane.Lease, 0, len(r.owned))
	for k, l := range r.owned {
		leases = append(leases, backplane.Lease{Doc: k.String(), Epoch: l.epoch})
	}
	r.owned = make(map[storage.DocKey]*ownedLease)
	r.mu.Unlock()
	var err error
	if len(leases) > 0 {
		if err = r.bp.Release(ctx, leases); err != nil {
			err = fmt.Errorf("release leases: %w", err)
		} else {
			r.log.Info("leases released", "count", len(leases))
		}
	}
	r.failPending(func(*pendingReq) bool { return true })
	r.drainLinks(ctx)
	r.cancel()
	r.wg.Wait()
	return err
}

// drainLinks waits (briefly) until the links published what is queued: the drops and leaves
// of a shutdown reach the other nodes.
func (r *Router) drainLinks(ctx context.Context) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		empty := true
		r.mu.Lock()
		for _, l := range r.links {
			l.mu.Lock()
			if len(l.q) > 0 {
				empty = false
			}
			l.mu.Unlock()
		}
		r.mu.Unlock()
		if empty {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rendezvous picks the node with the highest hash of (node, key); self when nodes is empty.
func rendezvous(key string, nodes []string, self string) string {
	best, bestH := self, uint64(0)
	for _, n := range nodes {
		h := fnv.New64a()
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write([]byte(key))
		if v := mix64(h.Sum64()); v > bestH || (v == bestH && n < best) {
			best, bestH = n, v
		}
	}
	return best
}

// mix64 is MurmurHash3's finalizer: FNV's high bits barely depend on the key's last bytes, and
// every node must pick the same winner, so the hash is mixed (deterministically) before use.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

var _ doc.Router = (*Router)(nil)
