// Package host is the OpStream server: it wires storage, WASM plugins, documents and the HTTP
// API together. New builds a Server from a Config; Run serves until its context ends and then
// shuts down gracefully.
package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/go-plugin"
	"go.opentelemetry.io/otel/metric"

	"github.com/opstream/opstream/host/auth"
	"github.com/opstream/opstream/host/backplane"
	"github.com/opstream/opstream/host/builtin"
	"github.com/opstream/opstream/host/cluster"
	"github.com/opstream/opstream/host/doc"
	"github.com/opstream/opstream/host/httpapi"
	"github.com/opstream/opstream/host/pluginhost"
	"github.com/opstream/opstream/host/session"
	"github.com/opstream/opstream/host/store"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/host/webhook"
	"github.com/opstream/opstream/pluginsdk/storage"
	"github.com/opstream/opstream/protocol"
)

// Options are the parts of a server that are not configuration.
type Options struct {
	// Executable is the opstream binary the built-in storage providers run from (it is
	// re-executed as `opstream storage-plugin NAME`); empty means os.Executable().
	Executable string
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// Reload, when it delivers, reloads the plugins (the CLI wires SIGHUP to it).
	Reload <-chan struct{}
	// Telemetry adjusts telemetry.New: tests inject a span recorder
	// (telemetry.WithSpanProcessor) or a metric reader.
	Telemetry []telemetry.Option
	// WebhookClient sends the webhooks; nil means the dispatcher's own client.
	WebhookClient *http.Client
}

// Server is one OpStream node.
type Server struct {
	cfg       Config
	log       *slog.Logger
	rt        *pluginhost.Runtime // sandboxed: deadlines preempt guests
	trusted   *pluginhost.Runtime // built-in and trusted modules: no preemption, 3-4x faster
	engines   map[string]*engineAdapter
	authz     *authorizerAdapter
	checker   *auth.Checker
	store     *store.Supervisor
	committer *store.Committer
	docs      *doc.Registry
	bp        backplane.Backplane
	router    *cluster.Router
	api       *httpapi.API
	http      *http.Server
	ln        net.Listener
	reload    <-chan struct{}
	tel       *telemetry.Telemetry
	gauges    metric.Registration
	hooks     *webhook.Dispatcher
	mgmt      *authorizerAdapter // plugins.management; nil when not configured
}

// New builds a server: it starts the storage provider, loads the WASM modules and binds the
// listener. Misconfiguration fails here with a message saying how to fix it.
func New(ctx context.Context, cfg Config, opts Options) (_ *Server, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.NodeID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.NodeID = hex.EncodeToString(b[:])
	}
	log = log.With("node", cfg.NodeID)
	s := &Server{cfg: cfg, log: log, engines: make(map[string]*engineAdapter), reload: opts.Reload}
	defer func() {
		if err != nil {
			s.closeParts(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	if s.tel, err = telemetry.New(ctx, cfg.Telemetry, cfg.NodeID, log, opts.Telemetry...); err != nil {
		return nil, fmt.Errorf("start telemetry: %w", err)
	}
	met := s.tel.Metrics()
	if err := s.startWebhooks(opts.WebhookClient); err != nil {
		return nil, err
	}

	if err := s.startStorage(ctx, opts.Executable); err != nil {
		return nil, err
	}
	if err := s.loadPlugins(ctx); err != nil {
		return nil, err
	}
	s.committer = store.NewCommitter(s.store, store.CommitterConfig{Metrics: met, InFlight: cfg.Storage.AppendsInFlight}, log)
	if err := s.startBackplane(); err != nil {
		return nil, err
	}
	bg := context.Background()
	s.router = cluster.New(cluster.Config{
		LeaseTTL:       cfg.Backplane.OwnershipLeaseTTL,
		ForwardTimeout: cfg.Backplane.ForwardTimeout,
		Placement:      cfg.Backplane.Placement,
		Tracer:         s.tel.Tracer(),
	}, s.bp, nil, cluster.Hooks{
		LeaseAcquired: func() { met.LeaseAcquired(bg) },
		LeaseLost:     func() { met.LeaseLost(bg) },
		Publish:       func(d time.Duration, err error) { met.BackplanePublish(bg, d, err) },
	}, log)
	var docHooks doc.Hooks
	if len(cfg.Webhooks.Endpoints) > 0 {
		docHooks = doc.Hooks{
			Changed: func(k storage.DocKey, from, to int64) { s.hooks.DocChanged(k.Tenant, k.ID, from, to) },
			LastPeerLeft: func(k storage.DocKey, rev int64) {
				s.hooks.LastPeerLeft(k.Tenant, k.ID, rev)
			},
		}
	}
	s.docs = doc.NewRegistry(doc.Config{
		SnapshotEvery:    cfg.Snapshots.Every,
		SnapshotInterval: cfg.Snapshots.Interval,
		IdleTimeout:      cfg.Documents.IdleTimeout,
		AwarenessTTL:     cfg.Documents.AwarenessTTL,
		EpochFor:         s.router.EpochFor,
		OnFenced:         s.router.OnFenced,
		Tracer:           s.tel.Tracer(),
		Metrics:          met,
		Hooks:            docHooks,
	}, s.store, s, s.committer, log)
	s.router.SetRegistry(s.docs)
	if err := s.router.Start(ctx); err != nil {
		return nil, err
	}
	s.checker = auth.NewChecker(s.authz, auth.Config{CacheTTL: cfg.Auth.CacheTTL}, log)
	checker := s.checker
	limits := protocol.Limits{
		MaxOpBytes: cfg.Limits.OpBytes, MaxAwarenessBytes: cfg.Limits.AwarenessBytes,
		MaxDocIDLen: cfg.Limits.DocIDLength, MaxDocTypeLen: cfg.Limits.DocTypeLength,
	}
	var metricsHandler http.Handler
	if s.tel.PrometheusEnabled() {
		metricsHandler = s.tel.Handler()
	}
	s.api = httpapi.New(httpapi.Config{
		Session:        session.Config{Limits: limits, OpsPerSecond: cfg.Limits.OpsPerSecond, OpsBurst: cfg.Limits.OpsBurst},
		PassHeaders:    cfg.Auth.PassHeaders,
		OriginPatterns: cfg.HTTP.AllowedOrigins,
		Demo:           cfg.Demo,
		Health:         s.Health,
		Metrics:        metricsHandler,
		Tracer:         s.tel.Tracer(),
		Propagator:     s.tel.Propagator(),
		Telemetry:      met,
		Admin:          s,
	}, s.router, s.store, checker, s.Ready, cfg.NodeID, log)
	if s.gauges, err = met.RegisterGauges(telemetry.Gauges{
		ActiveDocs:   func() int64 { return int64(s.docs.Loaded()) },
		Connections:  s.api.Connections,
		WebhookQueue: s.hooks.Queued,
		WALBytes:     s.walBytes,
	}); err != nil {
		return nil, fmt.Errorf("register gauges: %w", err)
	}

	s.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (set --addr or OPSTREAM_ADDR)", cfg.Addr, err)
	}
	s.http = &http.Server{Handler: s.api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.warnDevelopmentDefaults()
	return s, nil
}

// webhookDrain bounds how long a shutdown waits for queued webhook events.
const webhookDrain = 5 * time.Second

// startWebhooks starts the webhook dispatcher (one that discards events when no endpoint is
// configured), reporting into the metrics.
func (s *Server) startWebhooks(client *http.Client) error {
	met := s.tel.Metrics()
	bg := context.Background()
	d, err := webhook.New(s.cfg.Webhooks, webhook.Options{
		Logger: s.log,
		Client: client,
		Node:   s.cfg.NodeID,
		Hooks: webhook.Hooks{
			Delivered: func(ep string, ev webhook.EventType, _ int) { met.WebhookDelivered(bg, ep, string(ev)) },
			Failed:    func(ep string, ev webhook.EventType, _ error) { met.WebhookFailed(bg, ep, string(ev)) },
			Dropped:   func(ep string, _ webhook.EventType, reason string) { met.WebhookDropped(bg, ep, reason) },
		},
	})
	if err != nil {
		return fmt.Errorf("start webhooks: %w", err)
	}
	s.hooks = d
	return nil
}

// walBytes is the size of the SQLite write-ahead log, for the gauge.
func (s *Server) walBytes() (int64, bool) {
	if s.cfg.Storage.Provider != "sqlite" {
		return 0, false
	}
	path := filepath.Join(s.cfg.DataDir, "opstream.db")
	if p, ok := s.cfg.Storage.Config["path"].(string); ok && p != "" {
		path = p
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) warnDevelopmentDefaults() {
	if s.cfg.Storage.Provider == "memory" {
		s.log.Warn("DEVELOPMENT DEFAULT: memory storage is in force; every document is lost when the server stops. Set storage.provider to sqlite (the default) or a shared store before production.")
	}
	if s.cfg.Plugins.Authorizer.Module == builtin.AllowAll {
		s.log.Warn("DEVELOPMENT DEFAULT: the allow-all authorizer is in force; anyone who can reach this server can read and write every document. Set plugins.authorizer.module before production.")
	}
	if w := s.sharedStoreWarning(); w != "" {
		s.log.Warn(w)
	}
}

// sharedStoreWarning is set when a shared store runs without a shared backplane: a second node
// on the same store would order the same documents independently, and edits made on one node
// would never reach the other's peers.
func (s *Server) sharedStoreWarning() string {
	shared := s.cfg.Storage.Provider == "postgres" || s.cfg.Storage.Provider == "redis"
	if !shared || s.cfg.Backplane.Type != "local" {
		return ""
	}
	return "MISCONFIGURATION RISK: storage." + s.cfg.Storage.Provider + " is a shared store but the backplane is local. " +
		"Run exactly one node like this; with two or more nodes, edits on one node never reach peers on another. " +
		"Set backplane.type: redis on every node."
}

// startBackplane connects to the configured backplane.
func (s *Server) startBackplane() error {
	bc := s.cfg.Backplane
	if bc.Type == "local" {
		s.bp = backplane.NewLocal(s.cfg.NodeID)
		return nil
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	// The backplane id is unique per process start, so a restarted node never mistakes its
	// predecessor's leases for its own.
	id := s.cfg.NodeID + "." + hex.EncodeToString(b[:])
	bp, err := backplane.NewRedis(backplane.RedisConfig{
		Addr: bc.Addr, Username: bc.Username, Password: bc.Password, DB: bc.DB, TLS: bc.TLS, KeyPrefix: bc.KeyPrefix,
	}, id, s.log)
	if err != nil {
		return err
	}
	s.bp = bp
	return nil
}

func (s *Server) startStorage(ctx context.Context, executable string) error {
	cfg := s.cfg.Storage
	blockMap := cfg.Config
	var cmd func() *exec.Cmd
	name := cfg.Provider
	switch cfg.Provider {
	case "sqlite", "memory", "postgres", "redis":
		if executable == "" {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find own executable for the %s storage plugin: %w", cfg.Provider, err)
			}
			executable = exe
		}
		if cfg.Provider == "sqlite" {
			blockMap = map[string]any{"path": filepath.Join(s.cfg.DataDir, "opstream.db")}
			for k, v := range cfg.Config {
				blockMap[k] = v
			}
		}
		cmd = func() *exec.Cmd { return exec.Command(executable, "storage-plugin", cfg.Provider) }
	default:
		path := cfg.Provider
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("storage.provider %q: not sqlite, memory or a plugin binary: %w", cfg.Provider, err)
		}
		cmd = func() *exec.Cmd { return exec.Command(path) }
		name = filepath.Base(path)
	}
	var block []byte
	if len(blockMap) > 0 {
		var err error
		if block, err = json.Marshal(blockMap); err != nil {
			return fmt.Errorf("storage.config: %w", err)
		}
	}
	var secure *plugin.SecureConfig
	if cfg.SHA256 != "" {
		sum, err := hex.DecodeString(cfg.SHA256)
		if err != nil {
			return fmt.Errorf("storage.sha256: %w", err)
		}
		secure = &plugin.SecureConfig{Checksum: sum, Hash: newSHA256()}
	}
	sup, err := store.StartSupervisor(ctx, store.SupervisorConfig{
		Name: name, Cmd: cmd, Config: block, SecureConfig: secure, Logger: s.log, Metrics: s.tel.Metrics(),
	})
	if err != nil {
		return fmt.Errorf("start storage provider %s: %w", name, err)
	}
	s.store = sup
	return nil
}

func (s *Server) loadPlugins(ctx context.Context) error {
	for _, trusted := range []bool{false, true} {
		rt, err := pluginhost.NewRuntime(ctx, pluginhost.RuntimeConfig{
			CacheDir:         filepath.Join(s.cfg.DataDir, "wasm-cache"),
			MemoryLimitPages: uint32(s.cfg.Plugins.MemoryLimitMiB) * 16,
			Trusted:          trusted,
			Logger:           s.log,
			Metrics:          s.tel.Metrics(),
		})
		if err != nil {
			return fmt.Errorf("start wasm runtime: %w", err)
		}
		if trusted {
			s.trusted = rt
		} else {
			s.rt = rt
		}
	}
	instances := s.cfg.Plugins.Instances
	if instances <= 0 {
		instances = runtime.GOMAXPROCS(0)
	}

	engines := map[string]ModuleConfig{builtin.Text: {Module: builtin.Text}}
	for t, m := range s.cfg.Plugins.Engines {
		engines[t] = m
	}
	for docType, mc := range engines {
		v, err := s.loadEngine(ctx, docType, mc)
		if err != nil {
			return err
		}
		a := &engineAdapter{timeout: s.cfg.Plugins.EngineCallTimeout}
		a.cur.Store(v)
		s.engines[docType] = a
	}

	la, err := s.loadAuthorizer(ctx)
	if err != nil {
		return err
	}
	s.authz = &authorizerAdapter{}
	s.authz.cur.Store(la)
	if mc := s.cfg.Plugins.Management; mc.Module != "" {
		ma, err := s.loadAuthorizerModule(ctx, mc)
		if err != nil {
			return fmt.Errorf("plugins.management: %w", err)
		}
		s.mgmt = &authorizerAdapter{}
		s.mgmt.cur.Store(ma)
	}
	return nil
}

// loadEngine compiles and starts the engine module for a document type.
func (s *Server) loadEngine(ctx context.Context, docType string, mc ModuleConfig) (*engineVersion, error) {
	mod, err := s.compile(ctx, mc)
	if err != nil {
		return nil, fmt.Errorf("engine for %q: %w", docType, err)
	}
	if m := mod.Manifest(); m.Role != "engine" || m.DocType != docType {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("engine for %q: module %s is a %q module for document type %q", docType, mc.Module, m.Role, m.DocType)
	}
	instances := s.cfg.Plugins.Instances
	if instances <= 0 {
		instances = runtime.GOMAXPROCS(0)
	}
	eng, err := pluginhost.NewEngine(ctx, mod, pluginhost.EngineConfig{Instances: instances, CallTimeout: s.cfg.Plugins.EngineCallTimeout})
	if err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("engine for %q: %w", docType, err)
	}
	s.log.Info("engine loaded", "docType", docType, "module", mc.Module, "name", mod.Manifest().Name, "version", mod.Manifest().Version)
	return &engineVersion{eng: eng, mod: mod}, nil
}

// reloadEngine loads an engine module again and swaps it in; live documents move to it at their
// next op. A module that fails to load leaves the old one serving.
func (s *Server) reloadEngine(ctx context.Context, docType string) error {
	mc := s.cfg.Plugins.Engines[docType]
	v, err := s.loadEngine(ctx, docType, mc)
	if err != nil {
		s.log.Error("engine reload failed; the previous module keeps serving", "docType", docType, "err", err)
		return err
	}
	s.engines[docType].swap(context.WithoutCancel(ctx), v)
	s.log.Info("engine swapped", "docType", docType, "module", mc.Module)
	return nil
}

// loadAuthorizer compiles and starts the configured authorizer module.
func (s *Server) loadAuthorizer(ctx context.Context) (*loadedAuthorizer, error) {
	return s.loadAuthorizerModule(ctx, s.cfg.Plugins.Authorizer)
}

// loadAuthorizerModule compiles and starts an authorizer module.
func (s *Server) loadAuthorizerModule(ctx context.Context, mc ModuleConfig) (*loadedAuthorizer, error) {
	mod, err := s.compile(ctx, mc)
	if err != nil {
		return nil, fmt.Errorf("authorizer: %w", err)
	}
	conf := []byte("{}")
	if len(mc.Config) > 0 {
		if conf, err = json.Marshal(mc.Config); err != nil {
			_ = mod.Close(ctx)
			return nil, fmt.Errorf("authorizer config: %w", err)
		}
	}
	instances := s.cfg.Plugins.Instances
	if instances <= 0 {
		instances = runtime.GOMAXPROCS(0)
	}
	authz, err := pluginhost.NewAuthorizer(ctx, mod, conf, pluginhost.AuthorizerConfig{Instances: instances, CallTimeout: s.cfg.Plugins.AuthorizerCallTimeout})
	if err != nil {
		_ = mod.Close(ctx)
		return nil, fmt.Errorf("authorizer %s: %w", mc.Module, err)
	}
	s.log.Info("authorizer loaded", "module", mc.Module, "name", mod.Manifest().Name, "version", mod.Manifest().Version)
	return &loadedAuthorizer{a: authz, mod: mod}, nil
}

// reloadAuthorizer loads the authorizer module again and swaps it in: calls in flight finish
// on the old one, new calls use the new one, cached decisions are dropped. A module that fails
// to load leaves the old one serving.
func (s *Server) reloadAuthorizer(ctx context.Context) error {
	return s.swapAuthorizer(ctx, s.authz, s.cfg.Plugins.Authorizer, "authorizer", s.checker.Reset)
}

// reloadManagement does the same for the management API's authorizer (plugins.management),
// whose decisions are not cached.
func (s *Server) reloadManagement(ctx context.Context) error {
	return s.swapAuthorizer(ctx, s.mgmt, s.cfg.Plugins.Management, "management authorizer", nil)
}

func (s *Server) swapAuthorizer(ctx context.Context, into *authorizerAdapter, mc ModuleConfig, what string, reset func()) error {
	la, err := s.loadAuthorizerModule(ctx, mc)
	if err != nil {
		s.log.Error(what+" reload failed; the previous module keeps serving", "err", err)
		return err
	}
	old := into.cur.Swap(la)
	if reset != nil {
		reset()
	}
	s.log.Info(what+" swapped", "module", mc.Module)
	if old != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = old.a.Close(cctx) // waits for calls in flight
		_ = old.mod.Close(cctx)
		cancel()
	}
	return nil
}

// watchPlugins reloads modules whose files change (polled) and everything on reload requests
// (SIGHUP), until ctx ends.
func (s *Server) watchPlugins(ctx context.Context, reload <-chan struct{}) {
	stamp := func(ref string) string {
		path := s.modulePath(ref)
		if path == "" {
			return ""
		}
		fi, err := os.Stat(path)
		if err != nil {
			return ""
		}
		return fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
	}
	const authz, mgmt = "\x00authorizer", "\x00management"
	refs := map[string]string{authz: s.cfg.Plugins.Authorizer.Module}
	if s.mgmt != nil {
		refs[mgmt] = s.cfg.Plugins.Management.Module
	}
	for docType, mc := range s.cfg.Plugins.Engines {
		refs[docType] = mc.Module
	}
	last := map[string]string{}
	for k, ref := range refs {
		last[k] = stamp(ref)
	}
	reloadOne := func(k string) {
		switch k {
		case authz:
			_ = s.reloadAuthorizer(ctx)
		case mgmt:
			_ = s.reloadManagement(ctx)
		default:
			_ = s.reloadEngine(ctx, k)
		}
	}
	t := time.NewTicker(s.cfg.Plugins.WatchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			s.log.Info("reload requested")
			for k, ref := range refs {
				last[k] = stamp(ref)
				if s.modulePath(ref) != "" {
					reloadOne(k)
				}
			}
		case <-t.C:
			for k, ref := range refs {
				if now := stamp(ref); now != last[k] && now != "" {
					last[k] = now
					s.log.Info("module changed on disk", "path", s.modulePath(ref))
					reloadOne(k)
				}
			}
		}
	}
}

// modulePath is the file a module reference names, or "" for a built-in module.
func (s *Server) modulePath(ref string) string {
	if builtin.Has(ref) {
		return ""
	}
	if !filepath.IsAbs(ref) && !strings.ContainsRune(ref, filepath.Separator) {
		return filepath.Join(s.cfg.Plugins.Dir, ref)
	}
	return ref
}

// compile loads a module by built-in name, file name in the plugins dir, or path, into the
// trusted runtime for built-in and trusted modules, else the sandboxed one.
func (s *Server) compile(ctx context.Context, mc ModuleConfig) (*pluginhost.Module, error) {
	var (
		ref = mc.Module
		bin []byte
		err error
		rt  = s.rt
	)
	if builtin.Has(ref) {
		bin, err = builtin.Module(ref)
	} else {
		bin, err = os.ReadFile(s.modulePath(ref))
	}
	if err != nil {
		return nil, fmt.Errorf("read module %s: %w", ref, err)
	}
	shipped, isShipped := builtin.Shipped(bin)
	if builtin.Has(ref) || mc.Trusted || isShipped {
		rt = s.trusted
	}
	if isShipped && !builtin.Has(ref) && !mc.Trusted {
		s.log.Info("module is a shipped build of this release; running it trusted", "module", ref, "shipped", shipped)
	}
	mod, err := rt.Compile(ctx, ref, bin)
	if err != nil {
		return nil, fmt.Errorf("load module %s: %w", ref, err)
	}
	return mod, nil
}

// Engine implements doc.Engines.
func (s *Server) Engine(docType string) (doc.Engine, bool) {
	e, ok := s.engines[docType]
	if !ok {
		return nil, false
	}
	return e, true
}

// Ready reports whether the node can take ops: storage and the backplane must answer, and the
// node's ownership leases must be current.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.store.Health(ctx); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := s.bp.Ping(ctx); err != nil {
		return fmt.Errorf("backplane: %w", err)
	}
	if !s.router.Available() {
		return errors.New("backplane: ownership leases are not current yet")
	}
	return nil
}

// Health is the full report behind GET /health.
func (s *Server) Health(ctx context.Context) httpapi.HealthReport {
	rep := httpapi.HealthReport{Status: "ok", Node: s.cfg.NodeID}
	check := func(name string, err error, detail string) {
		c := httpapi.HealthCheck{Name: name, OK: err == nil, Detail: detail}
		if err != nil {
			c.Detail = err.Error()
			rep.Status = "unavailable"
		}
		rep.Checks = append(rep.Checks, c)
	}
	check("storage", s.store.Health(ctx), "provider "+s.cfg.Storage.Provider)
	bpErr := s.bp.Ping(ctx)
	if bpErr == nil && !s.router.Available() {
		bpErr = errors.New("ownership leases are not current")
	}
	check("backplane", bpErr, fmt.Sprintf("%s; node %s owns %d documents", s.cfg.Backplane.Type, s.router.Self(), s.router.Owned()))
	if s.cfg.Storage.Provider == "memory" {
		rep.Warnings = append(rep.Warnings, "development default: memory storage loses every document when the server stops")
	}
	if s.cfg.Plugins.Authorizer.Module == builtin.AllowAll {
		rep.Warnings = append(rep.Warnings, "development default: the allow-all authorizer lets anyone read and write every document")
	}
	if s.sharedStoreWarning() != "" {
		rep.Warnings = append(rep.Warnings, "storage is shared but the backplane is local: a second node would never see this node's edits; set backplane.type: redis")
	}
	if rep.Status == "ok" && len(rep.Warnings) > 0 {
		rep.Status = "degraded"
	}
	return rep
}

// Run serves until ctx ends, then shuts down within the configured timeout.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	if s.cfg.PprofAddr != "" {
		stop := s.servePprof()
		defer stop()
	}
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		s.watchPlugins(wctx, s.reload)
	}()
	defer func() {
		stopWatch()
		<-watched
	}()
	s.log.Info("opstream serving", "addr", s.Addr(), "dataDir", s.cfg.DataDir, "storage", s.cfg.Storage.Provider)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
			defer cancel()
			_ = s.Shutdown(sctx)
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	stopWatch()
	<-watched
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}

// servePprof serves the profiler on its own listener; the returned func stops it.
func (s *Server) servePprof() func() {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	srv := &http.Server{Addr: s.cfg.PprofAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("pprof listener", "err", err)
		}
	}()
	s.log.Warn("pprof is served; keep this address private", "addr", s.cfg.PprofAddr)
	return func() {
		_ = srv.Close()
		<-done
	}
}

// Shutdown stops accepting connections, finishes in-flight ops, writes final snapshots and
// closes the plugins.
func (s *Server) Shutdown(ctx context.Context) error {
	s.log.Info("shutting down")
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http: %w", err))
		}
	}
	if s.api != nil {
		if err := s.api.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.gauges != nil {
		// The gauges read the registry and the API: stop collecting them before they close.
		if err := s.gauges.Unregister(); err != nil {
			errs = append(errs, fmt.Errorf("unregister gauges: %w", err))
		}
		s.gauges = nil
	}
	if s.docs != nil {
		if err := s.docs.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.router != nil {
		// After the documents flushed: releasing the leases hands them to other nodes at once.
		if err := s.router.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.committer != nil {
		if err := s.committer.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if s.hooks != nil {
		// After the documents and the committer: their last doc.changed and
		// doc.last_peer_left events are raised, and Close flushes the debounce windows. A dead
		// endpoint must not hold the stop for the whole shutdown timeout: queued events get at
		// most webhookDrain, the rest are dropped (and counted).
		hctx, cancel := context.WithTimeout(ctx, webhookDrain)
		if err := s.hooks.Close(hctx); err != nil {
			s.log.Warn("webhooks not all delivered before shutdown", "err", err)
		}
		cancel()
	}
	s.closeParts(ctx)
	if s.tel != nil {
		// Last: everything that records has stopped.
		if err := s.tel.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.log.Info("stopped")
	return errors.Join(errs...)
}

func (s *Server) closeParts(ctx context.Context) {
	for _, e := range s.engines {
		if v := e.cur.Load(); v != nil {
			v.close(ctx)
		}
	}
	for _, a := range []*authorizerAdapter{s.authz, s.mgmt} {
		if a != nil {
			if la := a.cur.Load(); la != nil {
				_ = la.a.Close(ctx)
				_ = la.mod.Close(ctx)
			}
		}
	}
	for _, rt := range []*pluginhost.Runtime{s.rt, s.trusted} {
		if rt != nil {
			_ = rt.Close(ctx)
		}
	}
	if s.store != nil {
		_ = s.store.Close()
	}
	if s.router != nil {
		_ = s.router.Close(ctx)
	}
	if s.bp != nil {
		_ = s.bp.Close()
	}
	if s.ln != nil && s.http == nil {
		_ = s.ln.Close()
	}
	if s.http == nil {
		// New failed: nothing else stops these.
		if s.gauges != nil {
			_ = s.gauges.Unregister()
		}
		if s.hooks != nil {
			_ = s.hooks.Close(ctx)
		}
		if s.tel != nil {
			_ = s.tel.Shutdown(ctx)
		}
	}
}
