package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/opstream/opstream/pluginsdk/storage"
)

// The export file is JSON lines. Per document, in order: a "doc" line, "ops" lines of up to
// opsPerLine ops each (revision order), then a "snapshot" line when it has one. Op data and
// snapshots are bytes (base64 in JSON), so any engine's encoding survives.
type exportLine struct {
	Doc      *exportDoc        `json:"doc,omitempty"`
	Ops      []storage.Op      `json:"ops,omitempty"`
	Snapshot *storage.Snapshot `json:"snapshot,omitempty"`
	Tenant   string            `json:"tenant,omitempty"`
	ID       string            `json:"id,omitempty"`
}

type exportDoc struct {
	Tenant   string `json:"tenant"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Revision int64  `json:"revision"`
}

const opsPerLine = 1000

// openProvider starts a built-in storage provider as a plugin subprocess of this binary.
func openProvider(ctx context.Context, name, config string, stderr io.Writer) (*storage.Client, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(exe, "storage-plugin", name)
	if _, err := os.Stat(name); err == nil { // a provider binary
		cmd = exec.Command(name)
	}
	var block []byte
	if config != "" {
		block = []byte(config)
	}
	return storage.Start(ctx, storage.ClientConfig{Cmd: cmd, Name: name, Config: block,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

// Export writes every document of the given tenants (snapshot and full op log) as JSON lines.
func Export(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("storage", "sqlite", "provider: sqlite, postgres, redis, memory or a plugin binary")
	config := fs.String("storage-config", "", `provider config block, JSON (sqlite: {"path":"DATA/opstream.db"})`)
	tenants := fs.String("tenants", "default", "comma-separated tenants to export")
	out := fs.String("out", "-", "file to write (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := openProvider(ctx, *name, *config, stderr)
	if err != nil {
		return err
	}
	defer p.Close()
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("create %s: %w", *out, err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	prog := newProgress(stderr, "export")
	for _, tenant := range strings.Split(*tenants, ",") {
		after := ""
		for {
			page, err := p.List(ctx, &storage.ListRequest{Tenant: tenant, After: after, Limit: 1000})
			if err != nil {
				return fmt.Errorf("list %s: %w", tenant, err)
			}
			for _, info := range page.Docs {
				if err := exportDoc1(ctx, p, enc, info, prog); err != nil {
					return err
				}
				after = info.Doc.ID
			}
			if len(page.Docs) < 1000 {
				break
			}
		}
	}
	prog.done()
	return bw.Flush()
}

func exportDoc1(ctx context.Context, p storage.Provider, enc *json.Encoder, info storage.DocInfo, prog *progress) error {
	loaded, err := p.Load(ctx, info.Doc)
	if err != nil {
		return fmt.Errorf("load %s: %w", info.Doc, err)
	}
	head := loaded.Info
	if err := enc.Encode(exportLine{Doc: &exportDoc{Tenant: head.Doc.Tenant, ID: head.Doc.ID, Type: head.Type, Revision: head.Revision}}); err != nil {
		return err
	}
	for from := int64(1); from <= head.Revision; {
		page, err := p.ReadOps(ctx, &storage.ReadOpsRequest{Doc: head.Doc, From: from, Limit: opsPerLine})
		if err != nil {
			return fmt.Errorf("read ops of %s: %w", head.Doc, err)
		}
		if len(page.Ops) == 0 {
			return fmt.Errorf("op log of %s ends at %d, head says %d", head.Doc, from-1, head.Revision)
		}
		if err := enc.Encode(exportLine{Tenant: head.Doc.Tenant, ID: head.Doc.ID, Ops: page.Ops}); err != nil {
			return err
		}
		from = page.Ops[len(page.Ops)-1].Revision + 1
		prog.add(0, len(page.Ops))
	}
	if loaded.Snapshot != nil {
		if err := enc.Encode(exportLine{Tenant: head.Doc.Tenant, ID: head.Doc.ID, Snapshot: loaded.Snapshot}); err != nil {
			return err
		}
	}
	prog.add(1, 0)
	return nil
}

// Import reads an export and writes it into a provider. It is resumable: ops a document
// already has are skipped, so an interrupted import run again completes it. At the end every
// imported document's revision is checked against the export.
func Import(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("storage", "sqlite", "provider: sqlite, postgres, redis, memory or a plugin binary")
	config := fs.String("storage-config", "", "provider config block, JSON")
	in := fs.String("in", "-", "file to read (- for stdin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := openProvider(ctx, *name, *config, stderr)
	if err != nil {
		return err
	}
	defer p.Close()
	r := io.Reader(os.Stdin)
	if *in != "-" {
		f, err := os.Open(*in)
		if err != nil {
			return fmt.Errorf("open %s: %w", *in, err)
		}
		defer f.Close()
		r = f
	}
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	prog := newProgress(stderr, "import")
	var (
		cur  *exportDoc
		have int64 // the document's revision in the target
		want = map[storage.DocKey]int64{}
	)
	for {
		var l exportLine
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("read export: %w", err)
		}
		switch {
		case l.Doc != nil:
			cur = l.Doc
			key := storage.DocKey{Tenant: cur.Tenant, ID: cur.ID}
			want[key] = cur.Revision
			have = 0
			if loaded, err := p.Load(ctx, key); err == nil {
				have = loaded.Info.Revision
				if loaded.Info.Type != cur.Type {
					return fmt.Errorf("%s exists with type %q, export has %q", key, loaded.Info.Type, cur.Type)
				}
			} else if !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("load %s: %w", key, err)
			}
			prog.add(1, 0)
		case cur == nil || l.Tenant != cur.Tenant || l.ID != cur.ID:
			return fmt.Errorf("export is out of order: a line for %s/%s outside its document", l.Tenant, l.ID)
		case len(l.Ops) > 0:
			ops := l.Ops
			for len(ops) > 0 && ops[0].Revision <= have {
				ops = ops[1:] // already there: resuming
			}
			if len(ops) == 0 {
				continue
			}
			key := storage.DocKey{Tenant: cur.Tenant, ID: cur.ID}
			resp, err := p.Append(ctx, &storage.AppendRequest{Appends: []storage.Append{{Doc: key, Type: cur.Type, ExpectedRevision: have, Ops: ops}}})
			if err != nil {
				return fmt.Errorf("append to %s: %w", key, err)
			}
			if err := resp.Results[0].Err; err != nil {
				return fmt.Errorf("append to %s at %d: %w", key, have, err)
			}
			have = resp.Results[0].Revision
			prog.add(0, len(ops))
		case l.Snapshot != nil:
			if err := p.PutSnapshot(ctx, storage.DocKey{Tenant: cur.Tenant, ID: cur.ID}, *l.Snapshot); err != nil {
				return fmt.Errorf("put snapshot of %s/%s: %w", cur.Tenant, cur.ID, err)
			}
		}
	}
	prog.done()
	for key, rev := range want {
		loaded, err := p.Load(ctx, key)
		if err != nil {
			return fmt.Errorf("verify %s: %w", key, err)
		}
		if loaded.Info.Revision != rev {
			return fmt.Errorf("verify %s: revision %d, export has %d", key, loaded.Info.Revision, rev)
		}
	}
	fmt.Fprintf(stdout, "imported %d documents; every revision matches the export\n", len(want))
	return nil
}

// progress prints a line on stderr at most every 500 ms, and a final one.
type progress struct {
	w         io.Writer
	what      string
	docs, ops int
	last      time.Time
	start     time.Time
}

func newProgress(w io.Writer, what string) *progress {
	return &progress{w: w, what: what, start: time.Now()}
}

func (p *progress) add(docs, ops int) {
	p.docs += docs
	p.ops += ops
	if time.Since(p.last) > 500*time.Millisecond {
		p.last = time.Now()
		fmt.Fprintf(p.w, "\r%s: %d documents, %d ops", p.what, p.docs, p.ops)
	}
}

func (p *progress) done() {
	fmt.Fprintf(p.w, "\r%s: %d documents, %d ops in %v\n", p.what, p.docs, p.ops, time.Since(p.start).Round(time.Millisecond))
}
