package demo

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// dist holds the built assets. The all: prefix keeps the pattern valid on a clean clone, where
// dist holds only the committed .gitkeep (make build writes the rest).
//
//go:embed all:dist
var dist embed.FS

// Prefix is the path under which the demo's assets are served; the page itself is at "/".
const Prefix = "/demo/"

// Built reports whether the demo assets were built into the binary.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

// Handler serves the demo page at "/" and its assets under Prefix. When the assets were not
// built it serves a page that says how to build them.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !Built() {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(notBuilt))
			return
		}
		p := r.URL.Path
		switch {
		case p == "/":
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, sub, "index.html")
		case strings.HasPrefix(p, Prefix) && !strings.HasPrefix(path.Base(p), "."):
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + strings.TrimPrefix(p, Prefix)
			w.Header().Set("Cache-Control", "no-cache")
			files.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	})
}

const notBuilt = `<!doctype html><meta charset="utf-8"><title>OpStream demo</title>
<p>The demo assets were not built into this binary. Run <code>make build</code> (it runs
<code>npm ci</code> and the esbuild bundle in clients/js), then start <code>bin/opstream serve --demo</code>.</p>`
