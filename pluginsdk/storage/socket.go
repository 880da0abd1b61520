package storage

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/opstream/opstream/pluginsdk/storage/internal/storagepb"
)

// The append socket carries the append stream without gRPC: a request costs one read and one
// write on each side instead of HTTP/2 framing and goroutine hand-offs. Frames are a 4-byte
// big-endian length and a protobuf message; the host's first frame is the token the provider
// handed out through OpenAppendSocket, so only the process that asked can connect (the socket
// file is also 0600 in a private directory).

const tokenBytes = 32

// writeFrame appends msg as a frame to buf and writes it to w.
func writeFrame(w io.Writer, buf []byte, msg proto.Message) ([]byte, error) {
	buf = append(buf[:0], 0, 0, 0, 0)
	buf, err := proto.MarshalOptions{}.MarshalAppend(buf, msg)
	if err != nil {
		return buf, err
	}
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	_, err = w.Write(buf)
	return buf, err
}

// readFrame reads one frame's payload into buf.
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxMessageBytes {
		return buf, fmt.Errorf("append socket: frame of %d bytes is over %d", n, maxMessageBytes)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

func unmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

// The append socket's file name and the prefix of its private directory.
const (
	socketName      = "append.sock"
	socketDirPrefix = "opstream-storage-"
)

// appendSocket is the provider's listener, made on the first OpenAppendSocket.
type appendSocket struct {
	mu    sync.Mutex
	dir   string
	path  string
	token []byte
	ln    net.Listener
}

// OpenAppendSocket listens on a unix socket in a private directory (once) and returns its path
// and token.
func (s *server) OpenAppendSocket(context.Context, *storagepb.OpenAppendSocketRequest) (*storagepb.OpenAppendSocketResponse, error) {
	async, ok := s.p.(AsyncAppender)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "provider has no AsyncAppender")
	}
	as := &s.sock
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.ln == nil {
		dir, err := os.MkdirTemp("", socketDirPrefix)
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "append socket: %v", err)
		}
		path := filepath.Join(dir, socketName)
		ln, err := net.Listen("unix", path)
		if err != nil {
			os.RemoveAll(dir)
			return nil, status.Errorf(codes.Unavailable, "append socket: %v", err)
		}
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			os.RemoveAll(dir)
			return nil, status.Errorf(codes.Unavailable, "append socket: %v", err)
		}
		token := make([]byte, tokenBytes)
		_, _ = rand.Read(token)
		as.dir, as.path, as.token, as.ln = dir, path, token, ln
		go s.acceptAppends(ln, token, async)
	}
	return &storagepb.OpenAppendSocketResponse{Path: as.path, Token: as.token}, nil
}

// closeSocket stops listening and removes the socket's directory.
func (s *server) closeSocket() {
	as := &s.sock
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.ln != nil {
		as.ln.Close()
		os.RemoveAll(as.dir)
		as.ln = nil
	}
}

func (s *server) acceptAppends(ln net.Listener, token []byte, async AsyncAppender) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go s.serveAppends(conn, token, async)
	}
}

// serveAppends commits the connection's requests in arrival order and answers each once
// durable; it closes the connection after the last answer once the host stopped sending.
func (s *server) serveAppends(conn net.Conn, token []byte, async AsyncAppender) {
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := readFrame(r, nil)
	if err != nil || subtle.ConstantTimeCompare(got, token) != 1 {
		s.logger.Warn("append socket: connection without the token refused")
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wmu  sync.Mutex
		wbuf []byte
		werr error
		wg   sync.WaitGroup
	)
	defer wg.Wait()
	answer := func(id uint64, resp *AppendResponse, err error) {
		defer wg.Done()
		out := streamResponse(id, resp, err)
		wmu.Lock()
		defer wmu.Unlock()
		if werr == nil {
			wbuf, werr = writeFrame(conn, wbuf, out)
		}
	}
	var buf []byte
	for {
		buf, err = readFrame(r, buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.logger.Debug("append socket read", "error", err)
			}
			return
		}
		in := &storagepb.AppendStreamRequest{}
		if err := proto.Unmarshal(buf, in); err != nil {
			s.logger.Error("append socket: bad frame; closing", "error", err)
			return
		}
		req := &AppendRequest{Appends: appendsFromPB(in.GetRequest().GetAppends())}
		id := in.GetId()
		wg.Add(1)
		s.appendOne(ctx, async, req, func(resp *AppendResponse, err error) { answer(id, resp, err) })
	}
}

// appendOne hands one request to the provider, answering exactly once even if it panics.
func (s *server) appendOne(ctx context.Context, async AsyncAppender, req *AppendRequest, answer func(*AppendResponse, error)) {
	var answered atomic.Bool
	done := func(resp *AppendResponse, err error) {
		if answered.CompareAndSwap(false, true) {
			answer(resp, err)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("provider panic", "method", "append", "panic", fmt.Sprint(r))
			done(nil, fmt.Errorf("storage provider panic in append: %v", r))
		}
	}()
	if async != nil {
		async.AppendAsync(ctx, req, done)
		return
	}
	done(s.p.Append(ctx, req))
}

// streamResponse encodes an append's outcome for the stream or the socket.
func streamResponse(id uint64, resp *AppendResponse, err error) *storagepb.AppendStreamResponse {
	out := &storagepb.AppendStreamResponse{Id: id}
	switch {
	case err != nil:
		out.Code, out.Message = toCode(err), err.Error()
		if out.Code == storagepb.Code_CODE_OK {
			out.Code = storagepb.Code_CODE_INTERNAL
		}
	case resp == nil:
		out.Code, out.Message = storagepb.Code_CODE_INTERNAL, "provider returned no response"
	default:
		out.Response = appendResponseToPB(resp)
	}
	return out
}
