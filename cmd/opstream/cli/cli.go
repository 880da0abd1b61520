// Package cli holds the opstream subcommands. Each has its own flag set and takes injected
// writers, so tests call them directly.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/opstream/opstream/cmd/opstream/bench"
	"github.com/opstream/opstream/host"
	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/plugins/storage/memory"
	"github.com/opstream/opstream/plugins/storage/postgres"
	"github.com/opstream/opstream/plugins/storage/redis"
	"github.com/opstream/opstream/plugins/storage/sqlite"
	"github.com/opstream/opstream/pluginsdk/storage"
)

const usage = `opstream: a real-time collaboration server

Usage:
  opstream serve [flags]      run the server (opstream serve -h for flags)
  opstream bench [flags]      load-test a running server
  opstream plugin inspect F   check a WASM module and show its role, ABI, exports and imports
  opstream export [flags]     write documents (snapshots and op logs) from a provider as JSON lines
  opstream import [flags]     read such an export into a provider (resumable, verified)
  opstream dev cluster [flags] start redis-server and a local cluster of nodes to try multi-node
  opstream admin docs ...     list, diagnose and delete documents over the management API
  opstream version            print the version

`

// Main runs a subcommand and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = Serve(ctx, args[1:], stdout, stderr)
	case "bench":
		err = bench.Run(ctx, args[1:], stdout, stderr)
	case "export":
		err = Export(ctx, args[1:], stdout, stderr)
	case "import":
		err = Import(ctx, args[1:], stdout, stderr)
	case "plugin":
		err = Plugin(ctx, args[1:], stdout, stderr)
	case "storage-plugin":
		err = storagePlugin(args[1:])
	case "dev":
		err = Dev(ctx, args[1:], stdout, stderr)
	case "admin":
		err = Admin(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "opstream: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "opstream %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return "opstream " + bi.Main.Version
	}
	return "opstream (unknown version)"
}

// storagePlugin serves a built-in storage provider; the server re-executes itself with it.
func storagePlugin(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: opstream storage-plugin sqlite|memory|postgres|redis (started by the server, not by hand)")
	}
	switch args[0] {
	case "sqlite":
		storage.Serve(sqlite.New())
	case "memory":
		storage.Serve(memory.New())
	case "postgres":
		storage.Serve(postgres.New())
	case "redis":
		storage.Serve(redis.New())
	default:
		return fmt.Errorf("no built-in storage provider %q", args[0])
	}
	return nil
}

// Serve runs the server until ctx ends.
func Serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML config file")
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:7070; env OPSTREAM_ADDR)")
	dataDir := fs.String("data-dir", "", "data directory (default ./opstream-data; env OPSTREAM_DATA_DIR)")
	storageFlag := fs.String("storage", "", "storage provider: sqlite, memory, postgres, redis or a plugin binary path (env OPSTREAM_STORAGE)")
	authorizer := fs.String("authorizer", "", "authorizer module (default allow-all; env OPSTREAM_AUTHORIZER)")
	pluginsDir := fs.String("plugins-dir", "", "directory of WASM modules (env OPSTREAM_PLUGINS_DIR)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (env OPSTREAM_LOG_LEVEL)")
	logFormat := fs.String("log-format", "", "text or json (env OPSTREAM_LOG_FORMAT)")
	snapEvery := fs.Int("snapshot-every", 0, "snapshot after this many ops (default 100)")
	snapInterval := fs.Duration("snapshot-interval", 0, "snapshot a changed document after this long (default 5m)")
	pprofAddr := fs.String("pprof-addr", "", "serve net/http/pprof on this address (debugging; keep private)")
	idle := fs.Duration("idle-timeout", 0, "unload a document without peers after this long (default 5m)")
	demo := fs.Bool("demo", false, "serve the collaborative editor demo at / (env OPSTREAM_DEMO)")
	backplane := fs.String("backplane", "", "local (one node) or redis (a cluster; env OPSTREAM_BACKPLANE)")
	backplaneAddr := fs.String("backplane-addr", "", "Redis backplane address (env OPSTREAM_BACKPLANE_ADDR)")
	leaseTTL := fs.Duration("ownership-lease-ttl", 0, "document ownership lease TTL in a cluster (default 5s; env OPSTREAM_OWNERSHIP_LEASE_TTL)")
	nodeID := fs.String("node-id", "", "this node's id (default random per start; env OPSTREAM_NODE_ID)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: opstream serve [flags]\n\nFlags win over OPSTREAM_* environment variables, which win over the config file.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg host.Config
	if *configPath != "" {
		var err error
		if cfg, err = host.LoadConfigFile(*configPath); err != nil {
			return err
		}
	}
	if err := host.ApplyEnv(&cfg, os.LookupEnv); err != nil {
		return err
	}
	setStr := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setStr(&cfg.Addr, *addr)
	setStr(&cfg.DataDir, *dataDir)
	setStr(&cfg.Storage.Provider, *storageFlag)
	setStr(&cfg.Plugins.Authorizer.Module, *authorizer)
	setStr(&cfg.Plugins.Dir, *pluginsDir)
	setStr(&cfg.Log.Level, *logLevel)
	setStr(&cfg.Log.Format, *logFormat)
	setStr(&cfg.PprofAddr, *pprofAddr)
	setStr(&cfg.Backplane.Type, *backplane)
	setStr(&cfg.Backplane.Addr, *backplaneAddr)
	setStr(&cfg.NodeID, *nodeID)
	if *leaseTTL > 0 {
		cfg.Backplane.OwnershipLeaseTTL = *leaseTTL
	}
	if *snapEvery > 0 {
		cfg.Snapshots.Every = *snapEvery
	}
	if *snapInterval > 0 {
		cfg.Snapshots.Interval = *snapInterval
	}
	if *idle > 0 {
		cfg.Documents.IdleTimeout = *idle
	}
	if *demo {
		cfg.Demo = true
	}
	log, err := newLogger(stderr, cfg.Log)
	if err != nil {
		return err
	}
	// SIGHUP reloads the plugins.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	rctx, stopRelay := context.WithCancel(ctx)
	defer stopRelay()
	go func() {
		for {
			select {
			case <-rctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	srv, err := host.New(ctx, cfg, host.Options{Logger: log, Reload: reload})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func newLogger(w io.Writer, cfg host.LogConfig) (*slog.Logger, error) {
	var level slog.Level
	if cfg.Level != "" {
		if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
			return nil, fmt.Errorf("log level %q: use debug, info, warn or error", cfg.Level)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	// Records logged with a context that holds a span carry trace_id and span_id.
	if strings.EqualFold(cfg.Format, "json") {
		return slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(w, opts))), nil
	}
	return slog.New(telemetry.NewLogHandler(slog.NewTextHandler(w, opts))), nil
}
