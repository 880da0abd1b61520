package backplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// RedisConfig configures the Redis backplane.
type RedisConfig struct {
	// Addr is "host:port" or "unix:///path.sock".
	Addr     string
	Username string
	Password string
	DB       int
	// TLS negotiates TLS 1.2+ with the server certificate verified against the system roots.
	TLS bool
	// KeyPrefix starts every key and channel; empty means "opstream:bp:".
	KeyPrefix string
	// Timeout bounds each command; zero means 2s.
	Timeout time.Duration
}

// Redis is the backplane of a cluster: leases are keys with a TTL holding "node|epoch", epochs
// come from a per-document counter, node liveness is a sorted set scored by expiry, and each
// node has a pub/sub channel.
type Redis struct {
	rdb    *goredis.Client
	node   string
	prefix string
	log    *slog.Logger
}

// NewRedis connects (lazily) to Redis as node.
func NewRedis(cfg RedisConfig, node string, log *slog.Logger) (*Redis, error) {
	if cfg.Addr == "" {
		return nil, errors.New("backplane redis: addr is required")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "opstream:bp:"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	opt := &goredis.Options{
		Network: "tcp", Addr: cfg.Addr, Username: cfg.Username, Password: cfg.Password, DB: cfg.DB,
		DialTimeout: cfg.Timeout, ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout,
		ContextTimeoutEnabled: true, DisableIdentity: true,
		// RESP2: no HELLO per connection and no push-notification checks per command.
		Protocol: 2,
		// Lease scripts are not idempotent across a lost reply; the caller retries with intent.
		MaxRetries: -1,
	}
	if path, ok := strings.CutPrefix(cfg.Addr, "unix://"); ok {
		opt.Network, opt.Addr = "unix", path
	} else if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("backplane redis: addr %q: %w", cfg.Addr, err)
	}
	if cfg.TLS {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Redis{rdb: goredis.NewClient(opt), node: node, prefix: cfg.KeyPrefix, log: log}, nil
}

// Self implements Backplane.
func (r *Redis) Self() string { return r.node }

func (r *Redis) leaseKey(doc string) string { return r.prefix + "lease:" + doc }
func (r *Redis) epochKey(doc string) string { return r.prefix + "epoch:" + doc }
func (r *Redis) nodesKey() string           { return r.prefix + "nodes" }
func (r *Redis) channel(node string) string { return r.prefix + "node:" + node }

func unreachable(op string, err error) error {
	return fmt.Errorf("backplane %s: %w: %w", op, ErrUnreachable, err)
}

// parseOwner reads a lease value "node|epoch".
func parseOwner(v string) (Owner, error) {
	i := strings.LastIndexByte(v, '|')
	if i < 0 {
		return Owner{}, fmt.Errorf("backplane: malformed lease value %q", v)
	}
	e, err := strconv.ParseUint(v[i+1:], 10, 64)
	if err != nil {
		return Owner{}, fmt.Errorf("backplane: malformed lease epoch %q: %w", v, err)
	}
	return Owner{Node: v[:i], Epoch: e}, nil
}

func leaseValue(node string, epoch uint64) string {
	return node + "|" + strconv.FormatUint(epoch, 10)
}

// Lookup implements Backplane.
func (r *Redis) Lookup(ctx context.Context, doc string) (Owner, error) {
	v, err := r.rdb.Get(ctx, r.leaseKey(doc)).Result()
	if errors.Is(err, goredis.Nil) {
		return Owner{}, nil
	}
	if err != nil {
		return Owner{}, unreachable("lookup", err)
	}
	return parseOwner(v)
}

// acquireScript: KEYS lease, epoch counter; ARGV node, ttl ms, min epoch. Returns the lease
// value after the call (another node's when it holds the lease).
var acquireScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then return v end
local e = redis.call('INCR', KEYS[2])
local m = tonumber(ARGV[3])
if e < m then e = m; redis.call('SET', KEYS[2], e) end
v = ARGV[1] .. '|' .. e
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v
`)

// bumpScript raises the epoch of a lease this node holds above a minimum (after Redis lost its
// counters): KEYS lease, epoch counter; ARGV node, ttl ms, min epoch, current value.
var bumpScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v ~= ARGV[4] then return v end
local e = redis.call('INCR', KEYS[2])
local m = tonumber(ARGV[3])
if e < m then e = m; redis.call('SET', KEYS[2], e) end
v = ARGV[1] .. '|' .. e
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v
`)

// Acquire implements Backplane. When this node already holds the lease with an epoch below
// minEpoch, the epoch is raised.
func (r *Redis) Acquire(ctx context.Context, doc string, ttl time.Duration, minEpoch uint64) (Owner, error) {
	keys := []string{r.leaseKey(doc), r.epochKey(doc)}
	v, err := acquireScript.Run(ctx, r.rdb, keys, r.node, ttl.Milliseconds(), minEpoch).Text()
	if err != nil {
		return Owner{}, unreachable("acquire", err)
	}
	o, err := parseOwner(v)
	if err != nil || o.Node != r.node || o.Epoch >= minEpoch {
		return o, err
	}
	v, err = bumpScript.Run(ctx, r.rdb, keys, r.node, ttl.Milliseconds(), minEpoch, v).Text()
	if errors.Is(err, goredis.Nil) {
		return Owner{}, nil
	}
	if err != nil {
		return Owner{}, unreachable("raise epoch", err)
	}
	return parseOwner(v)
}

var releaseScript = goredis.NewScript(`
local n = 0
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[i] then redis.call('DEL', k); n = n + 1 end
end
return n
`)

// chunk is how many leases one script call handles, so no call blocks Redis for long.
const chunk = 500

// Release implements Backplane.
func (r *Redis) Release(ctx context.Context, leases []Lease) error {
	pipe := r.rdb.Pipeline()
	for start := 0; start < len(leases); start += chunk {
		end := min(start+chunk, len(leases))
		keys := make([]string, 0, end-start)
		args := make([]any, 0, end-start)
		for _, l := range leases[start:end] {
			keys = append(keys, r.leaseKey(l.Doc))
			args = append(args, leaseValue(r.node, l.Epoch))
		}
		releaseScript.Eval(ctx, pipe, keys, args...)
	}
	if pipe.Len() == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unreachable("release", err)
	}
	return nil
}

// renewScript: KEYS leases; ARGV ttl ms, then the expected value of each. Returns the 1-based
// indexes of leases that are no longer ours.
var renewScript = goredis.NewScript(`
local lost = {}
for i, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[i+1] then
    redis.call('PEXPIRE', k, ARGV[1])
  else
    lost[#lost+1] = i
  end
end
return lost
`)

// nodesScript: KEYS nodes set; ARGV node, ttl ms. Marks the node alive until now+ttl (Redis
// clock), forgets expired nodes and returns the live ones.
var nodesScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`)

// Refresh implements Backplane: one pipelined round trip whatever the number of leases.
func (r *Redis) Refresh(ctx context.Context, req RefreshRequest) (RefreshResult, error) {
	ttl := req.TTL.Milliseconds()
	pipe := r.rdb.Pipeline()
	nodes := nodesScript.Eval(ctx, pipe, []string{r.nodesKey()}, r.node, ttl)
	type renewCall struct {
		start int
		cmd   *goredis.Cmd
	}
	var renews []renewCall
	for start := 0; start < len(req.Renew); start += chunk {
		end := min(start+chunk, len(req.Renew))
		keys := make([]string, 0, end-start)
		args := make([]any, 0, end-start+1)
		args = append(args, ttl)
		for _, l := range req.Renew[start:end] {
			keys = append(keys, r.leaseKey(l.Doc))
			args = append(args, leaseValue(r.node, l.Epoch))
		}
		renews = append(renews, renewCall{start, renewScript.Eval(ctx, pipe, keys, args...)})
	}
	var gets []*goredis.SliceCmd
	for start := 0; start < len(req.Watch); start += chunk {
		end := min(start+chunk, len(req.Watch))
		keys := make([]string, 0, end-start)
		for _, d := range req.Watch[start:end] {
			keys = append(keys, r.leaseKey(d))
		}
		gets = append(gets, pipe.MGet(ctx, keys...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return RefreshResult{}, unreachable("refresh", err)
	}
	var res RefreshResult
	var err error
	if res.Nodes, err = nodes.StringSlice(); err != nil {
		return RefreshResult{}, unreachable("refresh nodes", err)
	}
	for _, rc := range renews {
		lost, err := rc.cmd.Int64Slice()
		if err != nil {
			return RefreshResult{}, unreachable("renew", err)
		}
		for _, i := range lost {
			res.Lost = append(res.Lost, rc.start+int(i)-1)
		}
	}
	res.Owners = make([]Owner, 0, len(req.Watch))
	for _, g := range gets {
		for _, v := range g.Val() {
			s, _ := v.(string)
			if s == "" {
				res.Owners = append(res.Owners, Owner{})
				continue
			}
			o, err := parseOwner(s)
			if err != nil {
				return RefreshResult{}, err
			}
			res.Owners = append(res.Owners, o)
		}
	}
	return res, nil
}

// Publish implements Backplane.
func (r *Redis) Publish(ctx context.Context, node string, payload []byte) error {
	n, err := r.rdb.Publish(ctx, r.channel(node), payload).Result()
	if err != nil {
		return unreachable("publish", err)
	}
	if n == 0 {
		return fmt.Errorf("publish to %s: %w", node, ErrNoSubscriber)
	}
	return nil
}

// Subscribe implements Backplane. go-redis re-subscribes after a broken connection; every
// subscription confirmation after the first is a reset, because messages published in between
// were dropped by Redis.
func (r *Redis) Subscribe(ctx context.Context, deliver func(Message), reset func(), ready func()) error {
	ps := r.rdb.Subscribe(ctx, r.channel(r.node))
	defer ps.Close()
	// Receive blocks in a read that ctx does not interrupt; closing the subscription does.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	confirmed := false
	failing := false
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !failing {
				r.log.Warn("backplane subscription broken; resubscribing", "err", err)
				failing = true
			}
			if confirmed {
				reset()
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			failing, backoff = false, 50*time.Millisecond
			if !confirmed {
				confirmed = true
				ready()
			} else {
				r.log.Info("backplane subscription restored")
				reset()
			}
		case *goredis.Message:
			deliver(Message{Payload: []byte(m.Payload)})
		case *goredis.Pong:
		}
	}
}

// Ping implements Backplane.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return unreachable("ping", err)
	}
	return nil
}

// Close implements Backplane.
func (r *Redis) Close() error { return r.rdb.Close() }

// AddHook installs a go-redis hook (tests count round trips with it).
func (r *Redis) AddHook(h goredis.Hook) { r.rdb.AddHook(h) }
