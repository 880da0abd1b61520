package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/opstream/opstream/host/telemetry"
	"github.com/opstream/opstream/pluginsdk/storage"
)

// SupervisorConfig configures a supervised storage provider.
type SupervisorConfig struct {
	// Name names the provider in logs.
	Name string
	// Cmd makes the provider command; it is called again for every restart.
	Cmd func() *exec.Cmd
	// Config is the provider's JSON config block.
	Config []byte
	// SecureConfig optionally pins the binary's checksum.
	SecureConfig *plugin.SecureConfig
	// Logger receives the provider's logs and restart events.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between restarts; zero means 100ms and 10s.
	MinBackoff, MaxBackoff time.Duration
	// Metrics counts restarts (plugin label Name) and times reads (ReadOps, Load); nil means
	// none. Appends are timed by the Committer.
	Metrics *telemetry.Metrics
}

// Supervisor runs a storage provider subprocess and restarts it with backoff when it dies. While
// it is down every call fails at once with an error wrapping storage.ErrUnavailable (so no op is
// acknowledged), and Health reports it. It implements storage.Provider.
type Supervisor struct {
	cfg SupervisorConfig
	log *slog.Logger

	mu       sync.Mutex
	cur      *storage.Client
	closed   bool
	restarts int
	stop     chan struct{}
	done     chan struct{}
}

var _ storage.Provider = (*Supervisor)(nil)

// StartSupervisor starts the provider; a provider that cannot start at all is an error here (a
// misconfiguration), later crashes are restarted.
func StartSupervisor(ctx context.Context, cfg SupervisorConfig) (*Supervisor, error) {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Supervisor{cfg: cfg, log: cfg.Logger.With("component", "storage", "plugin", cfg.Name),
		stop: make(chan struct{}), done: make(chan struct{})}
	c, err := s.start(ctx)
	if err != nil {
		return nil, err
	}
	s.cur = c
	go s.watch()
	return s, nil
}

func (s *Supervisor) start(ctx context.Context) (*storage.Client, error) {
	return storage.Start(ctx, storage.ClientConfig{
		Cmd: s.cfg.Cmd(), Name: s.cfg.Name, Config: s.cfg.Config, Logger: s.cfg.Logger, SecureConfig: s.cfg.SecureConfig,
	})
}

// watch restarts the provider when its process exits.
func (s *Supervisor) watch() {
	defer close(s.done)
	backoff := s.cfg.MinBackoff
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		cur := s.cur
		s.mu.Unlock()
		if cur != nil && !cur.Exited() {
			backoff = s.cfg.MinBackoff
			continue
		}
		if cur != nil {
			s.log.Error("storage provider exited; restarting", "backoff", backoff)
			s.mu.Lock()
			s.cur = nil
			s.mu.Unlock()
		}
		select {
		case <-s.stop:
			return
		case <-time.After(backoff):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := s.start(ctx)
		cancel()
		if err != nil {
			s.log.Error("restart storage provider", "err", err)
			backoff = min(backoff*2, s.cfg.MaxBackoff)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Kill()
			return
		}
		s.cur = c
		s.restarts++
		s.mu.Unlock()
		s.cfg.Metrics.PluginRestarted(context.Background(), s.cfg.Name)
		s.log.Info("storage provider restarted")
	}
}

// Restarts returns how many times the provider was restarted.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

var errDown = fmt.Errorf("storage provider is down: %w", storage.ErrUnavailable)

func (s *Supervisor) client() (*storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("storage provider closed: %w", storage.ErrUnavailable)
	}
	if s.cur == nil || s.cur.Exited() {
		return nil, errDown
	}
	return s.cur, nil
}

// Append implements storage.Provider.
func (s *Supervisor) Append(ctx context.Context, req *storage.AppendRequest) (*storage.AppendResponse, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	return c.Append(ctx, req)
}

// AppendAsync implements storage.AsyncAppender over the current subprocess's append stream.
func (s *Supervisor) AppendAsync(ctx context.Context, req *storage.AppendRequest, done func(*storage.AppendResponse, error)) {
	c, err := s.client()
	if err != nil {
		done(nil, err)
		return
	}
	c.AppendAsync(ctx, req, done)
}

var _ storage.AsyncAppender = (*Supervisor)(nil)

// ReadOps implements storage.Provider.
func (s *Supervisor) ReadOps(ctx context.Context, req *storage.ReadOpsRequest) (*storage.ReadOpsResponse, error) {
	c, err := s.client()
	if err != nil {
		s.cfg.Metrics.StoreRead(ctx, 0, err)
		return nil, err
	}
	start := time.Now()
	resp, err := c.ReadOps(ctx, req)
	s.cfg.Metrics.StoreRead(ctx, time.Since(start), err)
	return resp, err
}

// Load implements storage.Provider.
func (s *Supervisor) Load(ctx context.Context, doc storage.DocKey) (*storage.LoadResponse, error) {
	c, err := s.client()
	if err != nil {
		s.cfg.Metrics.StoreRead(ctx, 0, err)
		return nil, err
	}
	start := time.Now()
	resp, err := c.Load(ctx, doc)
	// A document that does not exist is an answer, not a failed read.
	rerr := err
	if errors.Is(err, storage.ErrNotFound) {
		rerr = nil
	}
	s.cfg.Metrics.StoreRead(ctx, time.Since(start), rerr)
	return resp, err
}

// PutSnapshot implements storage.Provider.
func (s *Supervisor) PutSnapshot(ctx context.Context, doc storage.DocKey, snap storage.Snapshot) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	return c.PutSnapshot(ctx, doc, snap)
}

// Delete implements storage.Provider.
func (s *Supervisor) Delete(ctx context.Context, doc storage.DocKey) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	return c.Delete(ctx, doc)
}

// List implements storage.Provider.
func (s *Supervisor) List(ctx context.Context, req *storage.ListRequest) (*storage.ListResponse, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	return c.List(ctx, req)
}

// Health implements storage.Provider.
func (s *Supervisor) Health(ctx context.Context) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	return c.Health(ctx)
}

// Close stops the provider for good.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	cur := s.cur
	s.cur = nil
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	if cur != nil {
		err := cur.Close()
		if err != nil && !errors.Is(err, storage.ErrUnavailable) {
			return fmt.Errorf("close storage provider: %w", err)
		}
	}
	return nil
}
