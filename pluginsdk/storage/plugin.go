package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/opstream/opstream/pluginsdk/storage/internal/storagepb"
)

// PluginName is the name of the storage plugin in the go-plugin plugin set.
const PluginName = "storage"

// MagicCookieKey and MagicCookieValue are the go-plugin magic cookie: the host sets the variable
// in the provider's environment; a provider binary started without it refuses to run.
const (
	MagicCookieKey   = "OPSTREAM_STORAGE_PLUGIN"
	MagicCookieValue = "7c1f5e0b9a2d4c68e3b1f0a95d7e2c4b8f6a1d3e"
)

// maxMessageBytes bounds one gRPC message in either direction. Providers cap ReadOps pages well
// below it; an append batch larger than this is refused by gRPC.
const maxMessageBytes = 64 << 20

// windowBytes is the gRPC flow-control window, both ways; setting it turns off BDP probing.
const windowBytes = 16 << 20

// handshake returns the go-plugin handshake for a protocol version.
func handshake(version int) plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  uint(version),
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// Serve runs p as a storage plugin subprocess: it answers the go-plugin handshake on stdout,
// serves gRPC until the host shuts the plugin down, then closes p. A provider's main calls it and
// nothing else. Logs go to stderr as hclog JSON, which the host re-emits through its own logger.
func Serve(p Provider) {
	serve(p, ProtocolVersion)
}

// serve is Serve with the protocol version as a parameter, so tests can build a mismatched
// provider.
func serve(p Provider, version int) {
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "storage",
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	gp := &grpcPlugin{impl: p, logger: logger}
	go exitWithParent(p, logger, gp)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake(version),
		Plugins:         plugin.PluginSet{PluginName: gp},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts,
				grpc.MaxRecvMsgSize(maxMessageBytes),
				// Reused handler goroutines keep the deep stacks SQLite calls grow: a new
				// goroutine per call spent ~7% of the provider's CPU growing its stack.
				grpc.NumStreamWorkers(4),
				grpc.MaxSendMsgSize(maxMessageBytes),
				// Fixed flow-control windows: the default dynamic (BDP) windows ping on
				// every data burst, a round trip of work per append over a local socket.
				grpc.InitialWindowSize(windowBytes),
				grpc.InitialConnWindowSize(windowBytes),
				grpc.ChainUnaryInterceptor(recoverInterceptor(logger)),
				grpc.ChainStreamInterceptor(recoverStreamInterceptor(logger)),
			)
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})
	gp.closeSocket()
	if err := p.Close(); err != nil {
		logger.Error("close provider", "error", err)
	}
}

// exitWithParent ends the plugin when the host process is gone (a kill -9 of the host leaves
// no one to shut the plugin down): the subprocess is re-parented, so its parent pid changes.
func exitWithParent(p Provider, logger hclog.Logger, gp *grpcPlugin) {
	parent := os.Getppid()
	for range time.Tick(250 * time.Millisecond) {
		if os.Getppid() != parent {
			logger.Warn("host process is gone; plugin exiting")
			gp.closeSocket()
			_ = p.Close()
			os.Exit(0)
		}
	}
}

// recoverInterceptor turns a panic in a provider method into an Internal error for that call, so
// one bad request does not take the subprocess down.
func recoverInterceptor(logger hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("provider panic", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Errorf(codes.Internal, "storage provider panic in %s: %v", info.FullMethod, r)
			}
		}()
		return handler(ctx, req)
	}
}

// recoverStreamInterceptor is recoverInterceptor for streams: the stream fails, the subprocess
// stays up.
func recoverStreamInterceptor(logger hclog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("provider panic", "method", info.FullMethod, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = status.Errorf(codes.Internal, "storage provider panic in %s: %v", info.FullMethod, r)
			}
		}()
		return handler(srv, ss)
	}
}

// grpcPlugin is the go-plugin glue for both sides: impl is set in the provider process only.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl   Provider
	logger hclog.Logger
	srv    atomic.Pointer[server] // set by GRPCServer, provider side
}

// GRPCServer registers the provider adapter (provider side).
func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	srv := &server{p: g.impl, logger: g.logger}
	g.srv.Store(srv)
	storagepb.RegisterStorageServer(s, srv)
	return nil
}

// GRPCClient returns the raw gRPC client (host side); Start wraps it in a Client.
func (g *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return storagepb.NewStorageClient(c), nil
}

// closeSocket removes the append socket, if one was opened.
func (g *grpcPlugin) closeSocket() {
	if srv := g.srv.Load(); srv != nil {
		srv.closeSocket()
	}
}

// server adapts a Provider to the gRPC service, in the provider process.
type server struct {
	storagepb.UnimplementedStorageServer
	p      Provider
	logger hclog.Logger
	sock   appendSocket
}

func (s *server) Configure(ctx context.Context, req *storagepb.ConfigureRequest) (*storagepb.ConfigureResponse, error) {
	c, ok := s.p.(Configurer)
	if !ok {
		if len(req.GetConfig()) > 0 {
			return nil, toStatus(fmt.Errorf("configure: this provider takes no config block, remove it: %w", ErrInvalid))
		}
		return &storagepb.ConfigureResponse{}, nil
	}
	if err := c.Configure(ctx, req.GetConfig()); err != nil {
		return nil, toStatus(err)
	}
	return &storagepb.ConfigureResponse{}, nil
}

func (s *server) Append(ctx context.Context, req *storagepb.AppendRequest) (*storagepb.AppendResponse, error) {
	resp, err := s.p.Append(ctx, &AppendRequest{Appends: appendsFromPB(req.GetAppends())})
	if err != nil {
		return nil, toStatus(err)
	}
	return appendResponseToPB(resp), nil
}

func appendResponseToPB(resp *AppendResponse) *storagepb.AppendResponse {
	out := &storagepb.AppendResponse{Results: make([]*storagepb.AppendResult, len(resp.Results))}
	for i, r := range resp.Results {
		res := &storagepb.AppendResult{Code: toCode(r.Err), Revision: r.Revision}
		if r.Err != nil {
			res.Message = r.Err.Error()
		}
		out.Results[i] = res
	}
	return out
}

// AppendStream commits the stream's requests in the order they arrive and answers each when
// it is durable: through AppendAsync when the provider has it, else through Append, one request
// after the other. It returns once every request received has been answered.
func (s *server) AppendStream(stream storagepb.Storage_AppendStreamServer) error {
	ctx := stream.Context()
	var (
		sendMu  sync.Mutex
		sendErr error
		wg      sync.WaitGroup
	)
	defer wg.Wait()
	answer := func(id uint64, resp *AppendResponse, err error) {
		defer wg.Done()
		out := streamResponse(id, resp, err)
		sendMu.Lock()
		defer sendMu.Unlock()
		if sendErr == nil {
			sendErr = stream.Send(out)
		}
	}
	async, _ := s.p.(AsyncAppender)
	for {
		in, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		req := &AppendRequest{Appends: appendsFromPB(in.GetRequest().GetAppends())}
		id := in.GetId()
		wg.Add(1)
		s.appendOne(ctx, async, req, func(resp *AppendResponse, err error) { answer(id, resp, err) })
	}
}

func (s *server) ReadOps(ctx context.Context, req *storagepb.ReadOpsRequest) (*storagepb.ReadOpsResponse, error) {
	resp, err := s.p.ReadOps(ctx, &ReadOpsRequest{
		Doc:   keyFromPB(req.GetDoc()),
		From:  req.GetFrom(),
		Limit: int(req.GetLimit()),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &storagepb.ReadOpsResponse{Ops: opsToPB(resp.Ops)}, nil
}

func (s *server) Load(ctx context.Context, req *storagepb.LoadRequest) (*storagepb.LoadResponse, error) {
	resp, err := s.p.Load(ctx, keyFromPB(req.GetDoc()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &storagepb.LoadResponse{Info: infoToPB(resp.Info), Snapshot: snapshotToPB(resp.Snapshot)}, nil
}

func (s *server) PutSnapshot(ctx context.Context, req *storagepb.PutSnapshotRequest) (*storagepb.PutSnapshotResponse, error) {
	snap := snapshotFromPB(req.GetSnapshot())
	if snap == nil {
		return nil, toStatus(fmt.Errorf("put snapshot: missing snapshot: %w", ErrInvalid))
	}
	if err := s.p.PutSnapshot(ctx, keyFromPB(req.GetDoc()), *snap); err != nil {
		return nil, toStatus(err)
	}
	return &storagepb.PutSnapshotResponse{}, nil
}

func (s *server) Delete(ctx context.Context, req *storagepb.DeleteRequest) (*storagepb.DeleteResponse, error) {
	if err := s.p.Delete(ctx, keyFromPB(req.GetDoc())); err != nil {
		return nil, toStatus(err)
	}
	return &storagepb.DeleteResponse{}, nil
}

func (s *server) List(ctx context.Context, req *storagepb.ListRequest) (*storagepb.ListResponse, error) {
	resp, err := s.p.List(ctx, &ListRequest{Tenant: req.GetTenant(), After: req.GetAfter(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, toStatus(err)
	}
	out := &storagepb.ListResponse{Docs: make([]*storagepb.DocInfo, len(resp.Docs))}
	for i, d := range resp.Docs {
		out.Docs[i] = infoToPB(d)
	}
	return out, nil
}

func (s *server) Health(ctx context.Context, _ *storagepb.HealthRequest) (*storagepb.HealthResponse, error) {
	if err := s.p.Health(ctx); err != nil {
		return nil, toStatus(err)
	}
	return &storagepb.HealthResponse{}, nil
}
