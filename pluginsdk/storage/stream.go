package storage

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/opstream/opstream/pluginsdk/storage/internal/storagepb"
)

var _ AsyncAppender = (*Client)(nil)

// appendStream is the host's end of the AppendStream: requests are sent in call order and
// answered by id. A broken stream fails every request waiting on it with ErrUnavailable; the
// next call opens a new one.
type appendStream struct {
	mu     sync.Mutex
	cur    *openStream // nil until the first call and after a break
	nextID uint64
	// unary is set once the provider answered the stream with Unimplemented (built with an
	// SDK without it): requests then go through Append, one at a time, in order.
	unary bool
	// noSocket is set once the provider declined the append socket.
	noSocket bool
	unaryMu  sync.Mutex
}

// openStream is one append stream, over the provider's append socket or the AppendStream RPC,
// and the requests waiting on it. Guarded by appendStream.mu, but for recv.
type openStream struct {
	st      storagepb.Storage_AppendStreamClient // the RPC, or
	conn    net.Conn                             // the socket
	r       *bufio.Reader
	rbuf    []byte // recv's
	wbuf    []byte
	cancel  context.CancelFunc
	waiting map[uint64]waiter // nil once the stream broke
}

func (os *openStream) send(m *storagepb.AppendStreamRequest) error {
	if os.conn == nil {
		return os.st.Send(m)
	}
	var err error
	os.wbuf, err = writeFrame(os.conn, os.wbuf, m)
	return err
}

func (os *openStream) recv() (*storagepb.AppendStreamResponse, error) {
	if os.conn == nil {
		return os.st.Recv()
	}
	var err error
	if os.rbuf, err = readFrame(os.r, os.rbuf); err != nil {
		return nil, status.Error(codes.Unavailable, "append socket: "+err.Error())
	}
	m := &storagepb.AppendStreamResponse{}
	if err := proto.Unmarshal(os.rbuf, m); err != nil {
		return nil, status.Error(codes.Internal, "append socket: bad frame: "+err.Error())
	}
	return m, nil
}

// open starts an append stream: the provider's socket when it offers one, else the RPC.
func (c *Client) open(ctx context.Context) (*openStream, error) {
	if !c.stream.noSocket {
		resp, err := c.rpc.OpenAppendSocket(ctx, &storagepb.OpenAppendSocketRequest{})
		switch {
		case status.Code(err) == codes.Unimplemented:
			c.stream.noSocket = true
		case err != nil:
			return nil, err
		default:
			c.sockMu.Lock()
			c.sockPath = resp.GetPath()
			c.sockMu.Unlock()
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", resp.GetPath())
			if err != nil {
				return nil, status.Error(codes.Unavailable, "append socket: "+err.Error())
			}
			os := &openStream{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), waiting: make(map[uint64]waiter)}
			os.cancel = func() { conn.Close() }
			hello := append([]byte{0, 0, 0, 0}, resp.GetToken()...)
			binary.BigEndian.PutUint32(hello, uint32(len(resp.GetToken())))
			if _, err := conn.Write(hello); err != nil {
				conn.Close()
				return nil, status.Error(codes.Unavailable, "append socket: "+err.Error())
			}
			return os, nil
		}
	}
	sctx, cancel := context.WithCancel(context.Background())
	st, err := c.rpc.AppendStream(sctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &openStream{st: st, cancel: cancel, waiting: make(map[uint64]waiter)}, nil
}

type waiter struct {
	req  *AppendRequest
	done func(*AppendResponse, error)
}

// AppendAsync implements AsyncAppender over the AppendStream RPC: several requests can be in
// flight, the provider commits them in call order and answers each when durable. When ctx ends
// before the answer, the stream is reset: that request and every later one in flight fail with
// ErrUnavailable (whether they were committed is unknown, as for a timed out Append).
func (c *Client) AppendAsync(ctx context.Context, req *AppendRequest, done func(*AppendResponse, error)) {
	if err := c.check(); err != nil {
		done(nil, err)
		return
	}
	s := &c.stream
	s.mu.Lock()
	if s.unary {
		s.mu.Unlock()
		c.appendUnary(ctx, req, done)
		return
	}
	if s.cur == nil {
		cur, err := c.open(ctx)
		if err != nil {
			s.mu.Unlock()
			done(nil, c.callErr(ctx, "open append stream", err))
			return
		}
		s.cur = cur
		go c.receive(s.cur)
	}
	cur := s.cur
	s.nextID++
	id := s.nextID
	if ctx.Done() != nil {
		// Reset the stream if ctx ends first; the answer usually comes first and stops it.
		stop := context.AfterFunc(ctx, func() { c.resetStream(cur, id) })
		inner := done
		done = func(r *AppendResponse, err error) { stop(); inner(r, err) }
	}
	cur.waiting[id] = waiter{req: req, done: done}
	// Sending under the lock keeps the stream in call order. On an error the receiver sees
	// the broken stream too and fails every waiter, this one included.
	if err := cur.send(&storagepb.AppendStreamRequest{Id: id, Request: &storagepb.AppendRequest{Appends: appendsToPB(req.Appends)}}); err != nil {
		cur.cancel()
	}
	s.mu.Unlock()
}

// AppendTransport names how AppendAsync reaches the provider now: "socket" (the provider's
// append socket), "stream" (the AppendStream RPC), "unary" (Append, one at a time) or "" before
// the first call. For logs and tests.
func (c *Client) AppendTransport() string {
	s := &c.stream
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.unary:
		return "unary"
	case s.cur != nil && s.cur.conn != nil:
		return "socket"
	case s.cur != nil || s.noSocket:
		return "stream"
	}
	return ""
}

// resetStream cancels os if the request id is still waiting on it.
func (c *Client) resetStream(os *openStream, id uint64) {
	c.stream.mu.Lock()
	defer c.stream.mu.Unlock()
	if _, ok := os.waiting[id]; ok {
		os.cancel()
	}
}

// receive delivers the answers on os until it breaks, then fails what still waits on it.
func (c *Client) receive(os *openStream) {
	s := &c.stream
	for {
		resp, err := os.recv()
		if err != nil {
			s.mu.Lock()
			os.cancel()
			if s.cur == os {
				s.cur = nil
			}
			waiting := os.waiting
			os.waiting = nil
			unimplemented := status.Code(err) == codes.Unimplemented
			if unimplemented {
				s.unary = true
			}
			s.mu.Unlock()
			for _, id := range slices.Sorted(maps.Keys(waiting)) {
				w := waiting[id]
				if unimplemented {
					c.appendUnary(context.Background(), w.req, w.done)
					continue
				}
				w.done(nil, c.callErr(context.Background(), "append stream", err))
			}
			return
		}
		s.mu.Lock()
		w, ok := os.waiting[resp.GetId()]
		delete(os.waiting, resp.GetId())
		s.mu.Unlock()
		if ok {
			w.done(c.appendResult(w.req, resp))
		}
	}
}

func (c *Client) appendResult(req *AppendRequest, resp *storagepb.AppendStreamResponse) (*AppendResponse, error) {
	if resp.GetCode() != storagepb.Code_CODE_OK {
		return nil, fmt.Errorf("storage plugin %s: append: %w", c.name, fromCode(resp.GetCode(), resp.GetMessage()))
	}
	results := resp.GetResponse().GetResults()
	if len(results) != len(req.Appends) {
		return nil, fmt.Errorf("storage plugin %s: append: %d results for %d appends", c.name, len(results), len(req.Appends))
	}
	out := &AppendResponse{Results: make([]AppendResult, len(results))}
	for i, r := range results {
		out.Results[i] = AppendResult{Err: fromCode(r.GetCode(), r.GetMessage()), Revision: r.GetRevision()}
	}
	return out, nil
}

// appendUnary serves AppendAsync through Append, one request at a time.
func (c *Client) appendUnary(ctx context.Context, req *AppendRequest, done func(*AppendResponse, error)) {
	c.stream.unaryMu.Lock()
	defer c.stream.unaryMu.Unlock()
	done(c.Append(ctx, req))
}
