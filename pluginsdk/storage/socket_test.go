package storage

import (
	"bufio"
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/opstream/opstream/pluginsdk/storage/internal/storagepb"
)

// asyncLog is a minimal AsyncAppender: one document, appends in order, answered at once.
type asyncLog struct {
	Provider // unused methods
	rev      int64
}

func (a *asyncLog) AppendAsync(_ context.Context, req *AppendRequest, done func(*AppendResponse, error)) {
	resp := &AppendResponse{Results: make([]AppendResult, len(req.Appends))}
	for i, ap := range req.Appends {
		if ap.ExpectedRevision != a.rev {
			resp.Results[i] = AppendResult{Err: ErrConflict, Revision: a.rev}
			continue
		}
		a.rev += int64(len(ap.Ops))
		resp.Results[i] = AppendResult{Revision: a.rev}
	}
	done(resp, nil)
}

func (a *asyncLog) Append(ctx context.Context, req *AppendRequest) (*AppendResponse, error) {
	ch := make(chan *AppendResponse, 1)
	a.AppendAsync(ctx, req, func(r *AppendResponse, _ error) { ch <- r })
	return <-ch, nil
}

func dialSocket(t *testing.T, path string, token []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := writeFrame(conn, nil, &storagepb.ConfigureRequest{Config: token}); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// TestAppendSocket: the provider's append socket answers requests in order to a host that
// presents the token, refuses one that does not, and is removed on close.
func TestAppendSocket(t *testing.T) {
	s := &server{p: &asyncLog{}, logger: hclog.NewNullLogger()}
	resp, err := s.OpenAppendSocket(t.Context(), &storagepb.OpenAppendSocketRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(resp.GetPath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket file: %v %v", fi, err)
	}

	// A wrong token: the provider closes the connection without reading requests.
	bad, badR := dialSocket(t, resp.GetPath(), []byte("not the token"))
	_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readFrame(badR, nil); err == nil {
		t.Fatal("a connection with a wrong token got an answer")
	}

	// The raw token as a frame of its own, then three pipelined requests.
	conn, err := net.Dial("unix", resp.GetPath())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hello := append([]byte{0, 0, 0, byte(len(resp.GetToken()))}, resp.GetToken()...)
	if _, err := conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for i := range 3 {
		req := &storagepb.AppendStreamRequest{Id: uint64(10 + i), Request: &storagepb.AppendRequest{Appends: appendsToPB([]Append{{
			Doc: DocKey{Tenant: "t", ID: "d"}, Type: "text", ExpectedRevision: int64(2 * i), Epoch: 1,
			Ops: []Op{{Revision: int64(2*i + 1), ClientID: "c", Seq: 1, Data: []byte("1")}, {Revision: int64(2*i + 2), ClientID: "c", Seq: 2, Data: []byte("2")}},
		}})}}
		if buf, err = writeFrame(conn, buf, req); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range 3 {
		payload, err := readFrame(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := &storagepb.AppendStreamResponse{}
		if err := unmarshal(payload, out); err != nil {
			t.Fatal(err)
		}
		res := out.GetResponse().GetResults()
		if out.GetId() != uint64(10+i) || len(res) != 1 || res[0].GetCode() != storagepb.Code_CODE_OK || res[0].GetRevision() != int64(2*i+2) {
			t.Fatalf("answer %d: %v", i, out)
		}
	}
	s.closeSocket()
	if _, err := os.Stat(resp.GetPath()); !os.IsNotExist(err) {
		t.Fatalf("socket left after close: %v", err)
	}
}
