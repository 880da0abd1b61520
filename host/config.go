package host

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/host/webhook"
)

// Config is the server's configuration: the YAML file, OPSTREAM_* environment variables and
// flags all set it (flags win over the environment, which wins over the file). Zero fields take
// the defaults in their comments.
type Config struct {
	// Addr is the listen address; empty means 127.0.0.1:7070.
	Addr string `yaml:"addr"`
	// DataDir holds the SQLite database and the WASM compilation cache; empty means
	// ./opstream-data.
	DataDir string `yaml:"dataDir"`
	// NodeID names this node (peer ids, logs); empty means a random id per start.
	NodeID string `yaml:"nodeId"`

	Log       LogConfig       `yaml:"log"`
	Storage   StorageConfig   `yaml:"storage"`
	Plugins   PluginsConfig   `yaml:"plugins"`
	Snapshots SnapshotsConfig `yaml:"snapshots"`
	Documents DocumentsConfig `yaml:"documents"`
	Limits    LimitsConfig    `yaml:"limits"`
	Auth      AuthConfig      `yaml:"auth"`
	HTTP      HTTPConfig      `yaml:"http"`
	Backplane BackplaneConfig `yaml:"backplane"`

	// Telemetry configures traces and metrics (docs/observability.md); zero means tracing off
	// and Prometheus text on GET /metrics.
	Telemetry telemetry.Config `yaml:"telemetry"`
	// Demo serves the collaborative editor demo at / (host/demo); default false.
	Demo bool `yaml:"demo"`
	// Webhooks configures the document events sent to HTTP endpoints; no endpoints means off.
	Webhooks webhook.Config `yaml:"webhooks"`
	// Admin opens the management API (/v1/admin); zero means it is closed.
	Admin AdminConfig `yaml:"admin"`

	// PprofAddr, when set, serves net/http/pprof on this separate address (keep it private).
	PprofAddr string `yaml:"pprofAddr"`

	// ShutdownTimeout bounds a graceful stop; zero means 30s.
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error; empty means info.
	Level string `yaml:"level"`
	// Format is text or json; empty means text.
	Format string `yaml:"format"`
}

// StorageConfig picks the storage provider.
type StorageConfig struct {
	// Provider is "sqlite" (the default), "postgres", "redis", "memory" (development only:
	// nothing survives a restart), or the path of a provider plugin binary.
	Provider string `yaml:"provider"`
	// Config is the provider's own config block, passed through as JSON. For sqlite, "path"
	// defaults to DataDir/opstream.db and "synchronous" to "full".
	Config map[string]any `yaml:"config"`
	// SHA256 optionally pins a provider binary's checksum (hex).
	SHA256 string `yaml:"sha256"`
	// AppendsInFlight bounds the append calls in flight to the provider: the provider commits
	// them in order and answers each once durable, so a call commits while the last one's fsync
	// runs. Zero means 2; 1 keeps one call at a time (fewer, larger calls: less CPU per op).
	AppendsInFlight int `yaml:"appendsInFlight"`
}

// PluginsConfig names the WASM modules.
type PluginsConfig struct {
	// Dir is where module files are looked up; empty means DataDir/plugins.
	Dir string `yaml:"dir"`
	// Authorizer is the authorizer module; empty module means the built-in allow-all.
	Authorizer ModuleConfig `yaml:"authorizer"`
	// Engines maps document types to engine modules, beside the built-in text engine.
	Engines map[string]ModuleConfig `yaml:"engines"`
	// Instances is the instance pool size per module; zero means the number of CPUs.
	Instances int `yaml:"instances"`
	// MemoryLimitMiB bounds each instance's memory; zero means 1024.
	MemoryLimitMiB int `yaml:"memoryLimitMiB"`
	// EngineCallTimeout bounds one engine call; zero means 1s.
	EngineCallTimeout time.Duration `yaml:"engineCallTimeout"`
	// AuthorizerCallTimeout bounds one authorizer call; zero means 500ms.
	AuthorizerCallTimeout time.Duration `yaml:"authorizerCallTimeout"`
	// Management is an authorizer module asked with action "admin" for every management API
	// request (/v1/admin); empty means no module: only Admin.Token opens the API.
	Management ModuleConfig `yaml:"management"`
	// WatchInterval is how often module files are checked for changes; zero means 2s. A
	// changed authorizer module is loaded and swapped in (SIGHUP does it at once).
	WatchInterval time.Duration `yaml:"watchInterval"`
}

// ModuleConfig names one WASM module and its config block.
type ModuleConfig struct {
	// Module is a file name in Plugins.Dir, a path, or a built-in name ("allow-all", "text").
	Module string `yaml:"module"`
	// Config is passed to the module at init as JSON.
	Config map[string]any `yaml:"config"`
	// Trusted runs the module without per-call preemption: 3-4x faster, but a module stuck in
	// a loop can no longer be stopped by its deadline. Built-in modules are always trusted;
	// set it only for modules you trust as much as the server. Default false (sandboxed).
	Trusted bool `yaml:"trusted"`
}

// SnapshotsConfig is the snapshot policy.
type SnapshotsConfig struct {
	// Every takes a snapshot after this many ops; zero means 100.
	Every int `yaml:"every"`
	// Interval takes a snapshot of a changed document after this long; zero means 5m.
	Interval time.Duration `yaml:"interval"`
}

// DocumentsConfig tunes loaded documents.
type DocumentsConfig struct {
	// IdleTimeout unloads a document without peers after this long; zero means 5m.
	IdleTimeout time.Duration `yaml:"idleTimeout"`
	// AwarenessTTL expires awareness state not refreshed for this long; zero means 30s.
	AwarenessTTL time.Duration `yaml:"awarenessTtl"`
}

// LimitsConfig bounds what peers may send.
type LimitsConfig struct {
	// OpBytes bounds one op; zero means 1 MiB.
	OpBytes int `yaml:"opBytes"`
	// AwarenessBytes bounds one awareness state; zero means 64 KiB.
	AwarenessBytes int `yaml:"awarenessBytes"`
	// DocIDLength bounds document ids in characters; zero means 256.
	DocIDLength int `yaml:"docIdLength"`
	// DocTypeLength bounds document type names; zero means 128.
	DocTypeLength int `yaml:"docTypeLength"`
	// OpsPerSecond is the per-connection op rate; zero means 5000.
	OpsPerSecond float64 `yaml:"opsPerSecond"`
	// OpsBurst is the per-connection op burst; zero means 10000.
	OpsBurst float64 `yaml:"opsBurst"`
}

// AuthConfig tunes authorization.
type AuthConfig struct {
	// CacheTTL is how long a decision is reused before the authorizer is asked again; zero
	// means 30s.
	CacheTTL time.Duration `yaml:"cacheTtl"`
	// PassHeaders are the request headers handed to the authorizer.
	PassHeaders []string `yaml:"passHeaders"`
}

// HTTPConfig tunes the HTTP server.
type HTTPConfig struct {
	// AllowedOrigins are extra origins allowed to open WebSockets (same-origin always is).
	AllowedOrigins []string `yaml:"allowedOrigins"`
}

// BackplaneConfig is how nodes coordinate. `backplane: redis` is short for `backplane: {type:
// redis}`.
type BackplaneConfig struct {
	// Type is "local" (one node, the default) or "redis" (several nodes sharing a Redis server
	// and a shared store: PostgreSQL or the Redis provider).
	Type string `yaml:"type"`
	// Addr is the Redis server, "host:port" or "unix:///path.sock"; empty means 127.0.0.1:6379.
	Addr string `yaml:"addr"`
	// Username and Password authenticate (ACL user, AUTH password). PasswordEnv names an
	// environment variable holding the password instead, to keep it out of the file.
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"passwordEnv"`
	// DB is the logical database.
	DB int `yaml:"db"`
	// TLS negotiates TLS 1.2+ with the server certificate verified.
	TLS bool `yaml:"tls"`
	// KeyPrefix starts every key and channel; empty means "opstream:bp:".
	KeyPrefix string `yaml:"keyPrefix"`
	// OwnershipLeaseTTL is how long a document's ownership lease lives without renewal: a dead
	// owner's documents move to another node after at most this long. Zero means 5s.
	OwnershipLeaseTTL time.Duration `yaml:"ownershipLeaseTtl"`
	// ForwardTimeout bounds a request forwarded to a document's owner; zero means 5s.
	ForwardTimeout time.Duration `yaml:"forwardTimeout"`
	// Placement is "first" (the first node to load a document owns it; the default) or "hash"
	// (rendezvous hashing over the live nodes spreads documents evenly).
	Placement string `yaml:"placement"`
}

// AdminConfig guards the management API (/v1/admin). It denies everything unless a token is
// set here or plugins.management names an authorizer module.
type AdminConfig struct {
	// Token is the bearer token that opens the management API; at least 16 characters. Prefer
	// TokenEnv. Empty means no token.
	Token string `yaml:"token"`
	// TokenEnv names an environment variable holding the token, read at start.
	TokenEnv string `yaml:"tokenEnv"`
}

// UnmarshalYAML accepts a plain string as the type.
func (b *BackplaneConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Type = n.Value
		return nil
	}
	type plain BackplaneConfig
	dec := (*plain)(b)
	return n.Decode(dec)
}

// LoadConfigFile reads a YAML config file strictly: unknown keys are errors.
func LoadConfigFile(path string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("parse config %s: %w", path, err)
	}
	return cfg, nil
}

// EnvVar is one OPSTREAM_* variable and the option it sets.
type EnvVar struct {
	Name  string
	Usage string
	set   func(c *Config, v string) error
}

// EnvVars lists the environment variables the server reads.
func EnvVars() []EnvVar {
	dur := func(dst func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			*dst(c) = d
			return nil
		}
	}
	return []EnvVar{
		{"OPSTREAM_ADDR", "listen address", func(c *Config, v string) error { c.Addr = v; return nil }},
		{"OPSTREAM_DATA_DIR", "data directory", func(c *Config, v string) error { c.DataDir = v; return nil }},
		{"OPSTREAM_NODE_ID", "node id", func(c *Config, v string) error { c.NodeID = v; return nil }},
		{"OPSTREAM_LOG_LEVEL", "log level", func(c *Config, v string) error { c.Log.Level = v; return nil }},
		{"OPSTREAM_LOG_FORMAT", "log format", func(c *Config, v string) error { c.Log.Format = v; return nil }},
		{"OPSTREAM_STORAGE", "storage provider", func(c *Config, v string) error { c.Storage.Provider = v; return nil }},
		{"OPSTREAM_STORAGE_APPENDS_IN_FLIGHT", "append calls in flight", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			c.Storage.AppendsInFlight = n
			return err
		}},
		{"OPSTREAM_PLUGINS_DIR", "plugins directory", func(c *Config, v string) error { c.Plugins.Dir = v; return nil }},
		{"OPSTREAM_AUTHORIZER", "authorizer module", func(c *Config, v string) error { c.Plugins.Authorizer.Module = v; return nil }},
		{"OPSTREAM_SNAPSHOT_EVERY", "snapshot every N ops", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			c.Snapshots.Every = n
			return err
		}},
		{"OPSTREAM_SNAPSHOT_INTERVAL", "snapshot interval", dur(func(c *Config) *time.Duration { return &c.Snapshots.Interval })},
		{"OPSTREAM_IDLE_TIMEOUT", "idle document unload", dur(func(c *Config) *time.Duration { return &c.Documents.IdleTimeout })},
		{"OPSTREAM_DEMO", "serve the demo page at / (true or false)", func(c *Config, v string) error { b, err := strconv.ParseBool(v); c.Demo = b; return err }},
		{"OPSTREAM_BACKPLANE", "backplane type: local or redis", func(c *Config, v string) error { c.Backplane.Type = v; return nil }},
		{"OPSTREAM_BACKPLANE_ADDR", "Redis backplane address", func(c *Config, v string) error { c.Backplane.Addr = v; return nil }},
		{"OPSTREAM_BACKPLANE_PASSWORD", "Redis backplane password", func(c *Config, v string) error { c.Backplane.Password = v; return nil }},
		{"OPSTREAM_OWNERSHIP_LEASE_TTL", "document ownership lease TTL", dur(func(c *Config) *time.Duration { return &c.Backplane.OwnershipLeaseTTL })},
		{"OPSTREAM_AUTH_CACHE_TTL", "authorization cache TTL", dur(func(c *Config) *time.Duration { return &c.Auth.CacheTTL })},
		{"OPSTREAM_ADMIN_TOKEN", "management API bearer token", func(c *Config, v string) error { c.Admin.Token = v; return nil }},
	}
}

// ApplyEnv sets cfg from the OPSTREAM_* variables lookup finds.
func ApplyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	for _, e := range EnvVars() {
		if v, ok := lookup(e.Name); ok && v != "" {
			if err := e.set(cfg, v); err != nil {
				return fmt.Errorf("environment %s=%q: %w", e.Name, v, err)
			}
		}
	}
	return nil
}

// minAdminTokenLength is the shortest admin token accepted.
const minAdminTokenLength = 16

// withDefaults fills in defaults and checks the config.
func (c Config) withDefaults() (Config, error) {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:7070"
	}
	if c.DataDir == "" {
		c.DataDir = "opstream-data"
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("data dir: %w", err)
	}
	c.DataDir = abs
	if c.Storage.Provider == "" {
		c.Storage.Provider = "sqlite"
	}
	if c.Plugins.Dir == "" {
		c.Plugins.Dir = filepath.Join(c.DataDir, "plugins")
	}
	if c.Plugins.Authorizer.Module == "" {
		c.Plugins.Authorizer.Module = "allow-all"
	}
	if c.Plugins.MemoryLimitMiB <= 0 {
		c.Plugins.MemoryLimitMiB = 1024
	}
	if c.Plugins.EngineCallTimeout <= 0 {
		c.Plugins.EngineCallTimeout = time.Second
	}
	if c.Plugins.WatchInterval <= 0 {
		c.Plugins.WatchInterval = 2 * time.Second
	}
	if c.Plugins.AuthorizerCallTimeout <= 0 {
		c.Plugins.AuthorizerCallTimeout = 500 * time.Millisecond
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	switch c.Backplane.Type {
	case "":
		c.Backplane.Type = "local"
	case "local":
	case "redis":
		if c.Backplane.Addr == "" {
			c.Backplane.Addr = "127.0.0.1:6379"
		}
		if c.Backplane.PasswordEnv != "" {
			if c.Backplane.Password != "" {
				return c, errors.New("backplane: give password or passwordEnv, not both")
			}
			if c.Backplane.Password = os.Getenv(c.Backplane.PasswordEnv); c.Backplane.Password == "" {
				return c, fmt.Errorf("backplane.passwordEnv: environment variable %s is unset or empty", c.Backplane.PasswordEnv)
			}
		}
	default:
		return c, fmt.Errorf("backplane.type %q: use local or redis", c.Backplane.Type)
	}
	switch c.Backplane.Placement {
	case "", "first", "hash":
	default:
		return c, fmt.Errorf("backplane.placement %q: use first or hash", c.Backplane.Placement)
	}
	if c.Backplane.OwnershipLeaseTTL < 0 || (c.Backplane.OwnershipLeaseTTL > 0 && c.Backplane.OwnershipLeaseTTL < 300*time.Millisecond) {
		return c, fmt.Errorf("backplane.ownershipLeaseTtl %s: use at least 300ms", c.Backplane.OwnershipLeaseTTL)
	}
	if c.Admin.TokenEnv != "" {
		if c.Admin.Token != "" {
			return c, errors.New("admin: give token or tokenEnv, not both")
		}
		if c.Admin.Token = os.Getenv(c.Admin.TokenEnv); c.Admin.Token == "" {
			return c, fmt.Errorf("admin.tokenEnv: environment variable %s is unset or empty", c.Admin.TokenEnv)
		}
	}
	if c.Admin.Token != "" && len(c.Admin.Token) < minAdminTokenLength {
		return c, fmt.Errorf("admin.token: use at least %d characters (for example: openssl rand -hex 24)", minAdminTokenLength)
	}
	if err := c.Telemetry.Validate(); err != nil {
		return c, err
	}
	if err := c.Webhooks.Validate(os.LookupEnv); err != nil {
		return c, err
	}
	switch strings.ToLower(c.Log.Format) {
	case "", "text", "json":
	default:
		return c, fmt.Errorf("log.format %q: use text or json", c.Log.Format)
	}
	return c, nil
}
