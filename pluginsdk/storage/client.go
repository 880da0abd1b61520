package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/opstream/opstream/pluginsdk/storage/internal/storagepb"
)

// ClientConfig configures Start.
type ClientConfig struct {
	// Cmd is the provider command, for example the host's own binary re-executed as
	// `opstream storage-plugin sqlite`. Required. It must not have been started.
	Cmd *exec.Cmd
	// Name names the plugin in logs and errors. Zero means the base name of Cmd.Path.
	Name string
	// Config is the provider's JSON config block, delivered through Configurer.Configure right
	// after start. Non-empty Config for a provider that is not a Configurer fails Start.
	Config []byte
	// Logger receives the plugin's log lines (its hclog output on stderr) and go-plugin's own,
	// with "plugin_id" set to Name. Nil means discard.
	Logger *slog.Logger
	// SecureConfig optionally pins the provider binary's checksum. Nil means no check.
	SecureConfig *plugin.SecureConfig
	// StartTimeout bounds the spawn and handshake. Zero means 30s.
	StartTimeout time.Duration
}

// Client is the host side of a storage plugin subprocess. It implements Provider; errors from the
// provider keep their sentinels (errors.Is works), and once the subprocess has died every call
// fails at once with an error wrapping ErrUnavailable. Safe for concurrent use.
type Client struct {
	name   string
	pc     *plugin.Client
	rpc    storagepb.StorageClient
	logger *slog.Logger
	stream appendStream

	sockMu   sync.Mutex
	sockPath string // the provider's append socket, removed by Kill should the provider not
	// handshake is go-plugin's unix socket of the subprocess (set at start), removed by Kill
	// should the subprocess not (killed).
	handshake string
}

var _ Provider = (*Client)(nil)

// Start spawns the provider, checks the handshake (a protocol version mismatch is refused with
// both versions named), and delivers cfg.Config. On error the subprocess is gone. ctx bounds the
// whole start.
func Start(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.Cmd == nil {
		return nil, errors.New("start storage plugin: ClientConfig.Cmd is required")
	}
	name := cfg.Name
	if name == "" {
		name = filepath.Base(cfg.Cmd.Path)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("plugin_id", name)
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake(ProtocolVersion),
		Plugins:          plugin.PluginSet{PluginName: &grpcPlugin{}},
		Cmd:              cfg.Cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLogAdapter(logger),
		SecureConfig:     cfg.SecureConfig,
		StartTimeout:     timeout,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessageBytes),
			grpc.MaxCallSendMsgSize(maxMessageBytes),
		), grpc.WithInitialWindowSize(windowBytes), grpc.WithInitialConnWindowSize(windowBytes)},
	})
	c := &Client{name: name, pc: pc, logger: logger}
	if err := c.start(ctx, cfg.Config); err != nil {
		pc.Kill()
		return nil, fmt.Errorf("start storage plugin %s: %w", name, err)
	}
	if rc := pc.ReattachConfig(); rc != nil && rc.Addr != nil && rc.Addr.Network() == "unix" {
		c.handshake = rc.Addr.String()
	}
	return c, nil
}

// start does the blocking part of Start: go-plugin's start takes no context, so it runs in a
// goroutine that Start always waits for.
func (c *Client) start(ctx context.Context, config []byte) error {
	type result struct {
		raw any
		err error
	}
	done := make(chan result, 1)
	go func() {
		cp, err := c.pc.Client()
		if err != nil {
			done <- result{err: err}
			return
		}
		raw, err := cp.Dispense(PluginName)
		done <- result{raw: raw, err: err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		c.pc.Kill()
		<-done
		return ctx.Err()
	}
	if r.err != nil {
		return fmt.Errorf("handshake (host protocol version %d): %w", ProtocolVersion, r.err)
	}
	rpc, ok := r.raw.(storagepb.StorageClient)
	if !ok {
		return fmt.Errorf("dispense: unexpected client type %T", r.raw)
	}
	c.rpc = rpc
	if _, err := c.rpc.Configure(ctx, &storagepb.ConfigureRequest{Config: config}); err != nil {
		return fmt.Errorf("configure: %w", fromStatus(ctx, err))
	}
	c.logger.Debug("storage plugin started", "protocol_version", c.pc.NegotiatedVersion())
	return nil
}

// Kill ends the subprocess: a graceful shutdown (the provider is closed) with a forced kill after
// 2s. It blocks until the process is gone and may be called more than once. A provider that died
// without removing its append socket (killed) leaves it to the host, which removes it here.
func (c *Client) Kill() {
	c.pc.Kill()
	c.sockMu.Lock()
	path := c.sockPath
	c.sockPath = ""
	c.sockMu.Unlock()
	removeAppendSocket(path)
	removeHandshakeSocket(c.handshake)
}

// removeHandshakeSocket removes go-plugin's socket of a subprocess that is gone: a unix socket
// named plugin* (anything else is left alone; one removed already is fine).
func removeHandshakeSocket(path string) {
	if path == "" || !strings.HasPrefix(filepath.Base(path), "plugin") {
		return
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
}

// removeAppendSocket removes a socket the SDK's server made (append.sock in an
// opstream-storage-* directory) and then its directory if empty; any other path a provider
// reported is left alone.
func removeAppendSocket(path string) {
	dir := filepath.Dir(path)
	if path == "" || filepath.Base(path) != socketName || !strings.HasPrefix(filepath.Base(dir), socketDirPrefix) {
		return
	}
	_ = os.Remove(path)
	_ = os.Remove(dir)
}

// Exited reports whether the subprocess has exited; the host then kills this Client and starts a
// new one.
func (c *Client) Exited() bool { return c.pc.Exited() }

// Close shuts the subprocess down (see Kill). It implements Provider.
func (c *Client) Close() error {
	c.Kill()
	return nil
}

// check fails fast when the subprocess is known to be dead.
func (c *Client) check() error {
	if c.pc.Exited() {
		return fmt.Errorf("storage plugin %s exited: %w", c.name, ErrUnavailable)
	}
	return nil
}

// callErr maps a failed call back to the storage sentinels, naming the plugin and operation.
func (c *Client) callErr(ctx context.Context, op string, err error) error {
	err = fromStatus(ctx, err)
	if !errors.Is(err, ErrUnavailable) && c.pc.Exited() {
		err = fmt.Errorf("%w (%w)", ErrUnavailable, err)
	}
	return fmt.Errorf("storage plugin %s: %s: %w", c.name, op, err)
}

// Append implements Provider.
func (c *Client) Append(ctx context.Context, req *AppendRequest) (*AppendResponse, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	resp, err := c.rpc.Append(ctx, &storagepb.AppendRequest{Appends: appendsToPB(req.Appends)})
	if err != nil {
		return nil, c.callErr(ctx, "append", err)
	}
	if len(resp.GetResults()) != len(req.Appends) {
		return nil, fmt.Errorf("storage plugin %s: append: %d results for %d appends", c.name, len(resp.GetResults()), len(req.Appends))
	}
	out := &AppendResponse{Results: make([]AppendResult, len(resp.GetResults()))}
	for i, r := range resp.GetResults() {
		out.Results[i] = AppendResult{Err: fromCode(r.GetCode(), r.GetMessage()), Revision: r.GetRevision()}
	}
	return out, nil
}

// ReadOps implements Provider.
func (c *Client) ReadOps(ctx context.Context, req *ReadOpsRequest) (*ReadOpsResponse, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	resp, err := c.rpc.ReadOps(ctx, &storagepb.ReadOpsRequest{Doc: keyToPB(req.Doc), From: req.From, Limit: int64(req.Limit)})
	if err != nil {
		return nil, c.callErr(ctx, "read ops", err)
	}
	return &ReadOpsResponse{Ops: opsFromPB(resp.GetOps())}, nil
}

// Load implements Provider.
func (c *Client) Load(ctx context.Context, doc DocKey) (*LoadResponse, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	resp, err := c.rpc.Load(ctx, &storagepb.LoadRequest{Doc: keyToPB(doc)})
	if err != nil {
		return nil, c.callErr(ctx, "load", err)
	}
	return &LoadResponse{Info: infoFromPB(resp.GetInfo()), Snapshot: snapshotFromPB(resp.GetSnapshot())}, nil
}

// PutSnapshot implements Provider.
func (c *Client) PutSnapshot(ctx context.Context, doc DocKey, snap Snapshot) error {
	if err := c.check(); err != nil {
		return err
	}
	_, err := c.rpc.PutSnapshot(ctx, &storagepb.PutSnapshotRequest{Doc: keyToPB(doc), Snapshot: snapshotToPB(&snap)})
	if err != nil {
		return c.callErr(ctx, "put snapshot", err)
	}
	return nil
}

// Delete implements Provider.
func (c *Client) Delete(ctx context.Context, doc DocKey) error {
	if err := c.check(); err != nil {
		return err
	}
	if _, err := c.rpc.Delete(ctx, &storagepb.DeleteRequest{Doc: keyToPB(doc)}); err != nil {
		return c.callErr(ctx, "delete", err)
	}
	return nil
}

// List implements Provider.
func (c *Client) List(ctx context.Context, req *ListRequest) (*ListResponse, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	resp, err := c.rpc.List(ctx, &storagepb.ListRequest{Tenant: req.Tenant, After: req.After, Limit: int64(req.Limit)})
	if err != nil {
		return nil, c.callErr(ctx, "list", err)
	}
	out := &ListResponse{Docs: make([]DocInfo, len(resp.GetDocs()))}
	for i, d := range resp.GetDocs() {
		out.Docs[i] = infoFromPB(d)
	}
	return out, nil
}

// Health implements Provider.
func (c *Client) Health(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	if _, err := c.rpc.Health(ctx, &storagepb.HealthRequest{}); err != nil {
		return c.callErr(ctx, "health", err)
	}
	return nil
}

// Pid returns the subprocess's process id, 0 when it is not running.
func (c *Client) Pid() int {
	if rc := c.pc.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}
