package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opstream/opstream/host/httpapi"
)

const adminUsage = `Usage: opstream admin docs <command> [flags]

Commands (over the management API of a running server):
  list               list a tenant's documents (paged with --after)
  diag ID            where a document is loaded, its owner, revision, peers, last ops, snapshot age
  delete ID          evict the document's live sessions, then delete it from storage

Flags (after the command):
  --addr HOST:PORT   the server (default 127.0.0.1:7070; env OPSTREAM_ADDR)
  --token T          the admin token (env OPSTREAM_ADMIN_TOKEN)
  --tenant T         the tenant (default "default")
  --json             print the API's JSON instead of a table
`

// Admin runs `opstream admin docs list|diag|delete` against a server's management API.
func Admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[0] != "docs" {
		fmt.Fprint(stderr, adminUsage)
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return flag.ErrHelp
		}
		return errors.New("usage: opstream admin docs list|diag|delete")
	}
	cmd := args[1]
	fs := flag.NewFlagSet("admin docs "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage) }
	addr := fs.String("addr", envOr("OPSTREAM_ADDR", "127.0.0.1:7070"), "server address")
	token := fs.String("token", os.Getenv("OPSTREAM_ADMIN_TOKEN"), "admin token")
	tenant := fs.String("tenant", "", "tenant (default \"default\")")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 0, "list: documents per page (default 100, at most 1000)")
	after := fs.String("after", "", "list: start after this document id (the previous page's next)")
	ops := fs.Int("ops", 0, "diag: how many recent ops to show (default 20)")
	timeout := fs.Duration("timeout", 30*time.Second, "request timeout")
	rest := args[2:]
	var id string
	if cmd == "diag" || cmd == "delete" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fs.Usage()
			return fmt.Errorf("admin docs %s: give the document id", cmd)
		}
		id, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("admin docs %s: unexpected arguments %q", cmd, fs.Args())
	}
	c := adminClient{base: baseURL(*addr), token: *token, timeout: *timeout}
	q := url.Values{}
	if *tenant != "" {
		q.Set("tenant", *tenant)
	}
	switch cmd {
	case "list":
		if *limit > 0 {
			q.Set("limit", strconv.Itoa(*limit))
		}
		if *after != "" {
			q.Set("after", *after)
		}
		var out httpapi.AdminDocList
		raw, err := c.do(ctx, http.MethodGet, "/v1/admin/docs", q, &out)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tREVISION\tSNAPSHOT")
		for _, d := range out.Docs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", d.ID, d.Type, d.Revision, d.SnapshotRevision)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
		if out.Next != "" {
			fmt.Fprintf(stdout, "more: --after %s\n", out.Next)
		}
		return nil
	case "diag":
		if *ops > 0 {
			q.Set("ops", strconv.Itoa(*ops))
		}
		var d httpapi.DocDiag
		raw, err := c.do(ctx, http.MethodGet, "/v1/admin/docs/"+url.PathEscape(id)+"/diag", q, &d)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		age := "none"
		if d.SnapshotAgeSeconds >= 0 {
			age = (time.Duration(d.SnapshotAgeSeconds * float64(time.Second))).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "document\t%s (tenant %s)\n", d.ID, d.Tenant)
		fmt.Fprintf(tw, "type\t%s\n", d.Type)
		fmt.Fprintf(tw, "node\t%s (loaded here: %t)\n", d.Node, d.Loaded)
		fmt.Fprintf(tw, "owner\t%s\n", orDash(d.Owner))
		fmt.Fprintf(tw, "revision\t%d\n", d.Revision)
		fmt.Fprintf(tw, "snapshot\trevision %d, age %s\n", d.SnapshotRevision, age)
		fmt.Fprintf(tw, "peers\t%d %s\n", len(d.Peers), strings.Join(d.Peers, " "))
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
		if len(d.Ops) > 0 {
			tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "\nREVISION\tCLIENT\tSEQ\tBYTES")
			for _, op := range d.Ops {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%d\n", op.Revision, op.ClientID, op.Seq, len(op.Op))
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("write table: %w", err)
			}
		}
		return nil
	case "delete":
		var d httpapi.DeleteResult
		raw, err := c.do(ctx, http.MethodDelete, "/v1/admin/docs/"+url.PathEscape(id), q, &d)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		fmt.Fprintf(stdout, "deleted %s (tenant %s) at revision %d; %d live peers evicted\n", d.ID, d.Tenant, d.Revision, d.EvictedPeers)
		return nil
	}
	fs.Usage()
	return fmt.Errorf("admin docs: unknown command %q", cmd)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func baseURL(addr string) string {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimSuffix(addr, "/")
	}
	return "http://" + addr
}

// printRaw prints a JSON answer (indented), or returns err.
func printRaw(w io.Writer, raw []byte, err error) error {
	if err != nil {
		return err
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		return nil
	}
	_, err = w.Write(raw)
	return err
}

type adminClient struct {
	base    string
	token   string
	timeout time.Duration
}

// do sends one request and decodes a 200 answer into out; other answers become errors with the
// server's code and message.
func (c adminClient) do(ctx context.Context, method, path string, q url.Values, out any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return nil, fmt.Errorf("%s %s: %s (HTTP %d): %s", method, path, e.Error.Code, resp.StatusCode, e.Error.Message)
		}
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return raw, nil
}
