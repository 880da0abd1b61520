// Tests of the AssemblyScript tokens authorizer, loaded from bin/plugins/tokens.wasm (built by
// `make build`, or `make bin/plugins/tokens.wasm`) through host/pluginhost like the server does.
package tokens

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/opstream/opstream/host/pluginhost"
)

const wasmPath = "../../../bin/plugins/tokens.wasm"

func readModule(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(wasmPath)
	if err != nil {
		abs, _ := filepath.Abs(wasmPath)
		t.Fatalf("%s is missing: run `make build` (or `make bin/plugins/tokens.wasm`) first: %v", abs, err)
	}
	return b
}

func newRuntime(t testing.TB, trusted bool) *pluginhost.Runtime {
	t.Helper()
	rt, err := pluginhost.NewRuntime(context.Background(), pluginhost.RuntimeConfig{Trusted: trusted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

func compile(t testing.TB, rt *pluginhost.Runtime) *pluginhost.Module {
	t.Helper()
	m, err := rt.Compile(context.Background(), "tokens", readModule(t))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const config = `{"tokens": {
	"s3cret-ann": {"access": "write", "tenant": "acme", "subject": "ann"},
	"s3cret-bob": {"subject": "bob", "access": "read"},
	"a<b&c": {"access": "read", "subject": "html \"quoted\"\n"},
	"jürgen-ключ-🔑": {"access": "write", "tenant": "Zürich", "subject": "jürgen"}
}}`

func newAuthorizer(t testing.TB, trusted bool, cfg string) *pluginhost.Authorizer {
	t.Helper()
	a, err := pluginhost.NewAuthorizer(context.Background(), compile(t, newRuntime(t, trusted)), []byte(cfg),
		pluginhost.AuthorizerConfig{Instances: 1, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return a
}

func TestLoadChecks(t *testing.T) {
	rt := newRuntime(t, false)
	info, err := rt.Inspect(context.Background(), "tokens", readModule(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Imports) != 0 {
		t.Errorf("imports = %v, want none", info.Imports)
	}
	if info.ABIVersion != 1 || info.Manifest.Role != "authorizer" || info.Manifest.Name != "tokens" || info.Manifest.ABI != 1 {
		t.Errorf("info = %+v", info)
	}
	t.Logf("tokens.wasm: %d bytes, exports %v", info.Size, info.Exports)
}

func TestDecisions(t *testing.T) {
	a := newAuthorizer(t, false, config)
	tests := []struct {
		token                           string
		access, tenant, subject, reason string
	}{
		{"s3cret-ann", "write", "acme", "ann", "token grants write"},
		{"s3cret-bob", "read", "", "bob", "token grants read"},
		// encoding/json escapes < and & as \u003c and \u0026: the module must decode them.
		{"a<b&c", "read", "", "html \"quoted\"\n", "token grants read"},
		{"jürgen-ключ-🔑", "write", "Zürich", "jürgen", "token grants write"},
		{"s3cret-an", "none", "", "", "unknown token"},
		{"s3cret-ann2", "none", "", "", "unknown token"},
		{"mallory", "none", "", "", "unknown token"},
		{"", "none", "", "", "no token"},
	}
	for _, tt := range tests {
		for _, action := range []string{"join", "write"} {
			req := pluginhost.Request{Action: action, DocID: "notes-1", Token: tt.token,
				Headers: map[string]string{"x-user": "ann", "x-token": "s3cret-bob"}, NowUnixMillis: 1795000000000}
			d, err := a.Authorize(context.Background(), req)
			if err != nil {
				t.Fatalf("Authorize(%q): %v", tt.token, err)
			}
			if d.Access != tt.access || d.Tenant != tt.tenant || d.Subject != tt.subject || d.Reason != tt.reason || d.ExpiresAtUnixMillis != 0 {
				t.Errorf("Authorize(%q) = %+v; want %s/%q/%q/%q", tt.token, d, tt.access, tt.tenant, tt.subject, tt.reason)
			}
		}
	}
}

func TestEmptyConfig(t *testing.T) {
	for _, cfg := range []string{"", "{}", `{"tokens": {}}`, " { \"tokens\" : { } } "} {
		a := newAuthorizer(t, true, cfg)
		d, err := a.Authorize(context.Background(), pluginhost.Request{Action: "join", DocID: "x", Token: "s3cret-ann"})
		if err != nil || d.Access != "none" {
			t.Errorf("config %q: Authorize = %+v, %v; want none", cfg, d, err)
		}
	}
}

func TestBadConfig(t *testing.T) {
	rt := newRuntime(t, false)
	m := compile(t, rt)
	for cfg, want := range map[string]string{
		`{"tokenz": {}}`:                                                  `unknown key "tokenz"`,
		`{"tokens": []}`:                                                  "tokens must be an object",
		`{"tokens": {"t": "write"}}`:                                      "must be an object",
		`{"tokens": {"t": {"access": "admin"}}}`:                          "access must be",
		`{"tokens": {"t": {}}}`:                                           "access must be",
		`{"tokens": {"t": {"access": "read", "x": 1}}}`:                   `unknown key "x"`,
		`{"tokens": {"t": {"access": "read", "tenant": 1}}}`:              "tenant must be a string",
		`{"tokens": {"t": {"access": "read", "subject": null}}}`:          "subject must be a string",
		`{"tokens": {"": {"access": "read"}}}`:                            "empty token",
		`{"tokens": {"t": {"access": "read"}, "t": {"access": "write"}}}`: "duplicate token",
		`{"tokens": {"t": {"access": "read"}}`:                            "config:",
		`{"tokens": {"t": {"access": "read"}}} x`:                         "unexpected data",
		`[]`: "expected a JSON object",
		`{"tokens": {"t": {"access": "read\u0000"}}}`: "access must be",
	} {
		a, err := pluginhost.NewAuthorizer(context.Background(), m, []byte(cfg), pluginhost.AuthorizerConfig{Instances: 1})
		if err == nil {
			_ = a.Close(context.Background())
			t.Errorf("config %s accepted", cfg)
			continue
		}
		if !errors.Is(err, pluginhost.ErrRejected) || !strings.Contains(err.Error(), want) {
			t.Errorf("config %s: error %v; want ErrRejected containing %q", cfg, err, want)
		}
	}
}

// TestManyTokens checks the hash table with enough tokens to collide.
func TestManyTokens(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"tokens": {`)
	const n = 2000
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		access := "read"
		if i%2 == 0 {
			access = "write"
		}
		b.WriteString(`"tok-` + itoa(i) + `": {"access": "` + access + `", "subject": "s` + itoa(i) + `"}`)
	}
	b.WriteString("}}")
	a := newAuthorizer(t, true, b.String())
	for i := range n + 100 {
		d, err := a.Authorize(context.Background(), pluginhost.Request{Action: "read", DocID: "d", Token: "tok-" + itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i >= n && d.Access != "none":
			t.Fatalf("tok-%d: %+v, want none", i, d)
		case i < n && (d.Subject != "s"+itoa(i) || (d.Access == "write") != (i%2 == 0)):
			t.Fatalf("tok-%d: %+v", i, d)
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	p := len(buf)
	for ; i > 0; i /= 10 {
		p--
		buf[p] = byte('0' + i%10)
	}
	return string(buf[p:])
}

func benchAuthorize(b *testing.B, trusted bool, token string) {
	a := newAuthorizer(b, trusted, config)
	req := pluginhost.Request{Action: "join", DocID: "notes-1", Token: token, NowUnixMillis: 1795000000000}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authorize(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorize(b *testing.B) {
	b.Run("sandboxed/known", func(b *testing.B) { benchAuthorize(b, false, "s3cret-ann") })
	b.Run("sandboxed/unknown", func(b *testing.B) { benchAuthorize(b, false, "mallory") })
	b.Run("trusted/known", func(b *testing.B) { benchAuthorize(b, true, "s3cret-ann") })
	b.Run("trusted/unknown", func(b *testing.B) { benchAuthorize(b, true, "mallory") })
}

// BenchmarkCompile measures compiling and checking the module on a runtime with no cache.
func BenchmarkCompile(b *testing.B) {
	bin := readModule(b)
	rt := newRuntime(b, false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m, err := rt.Compile(ctx, "tokens", bin)
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Close(ctx)
	}
}

// BenchmarkNewAuthorizer measures making one initialized instance (instantiate + authorizer_init).
func BenchmarkNewAuthorizer(b *testing.B) {
	m := compile(b, newRuntime(b, false))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a, err := pluginhost.NewAuthorizer(ctx, m, []byte(config), pluginhost.AuthorizerConfig{Instances: 1})
		if err != nil {
			b.Fatal(err)
		}
		_ = a.Close(ctx)
	}
}

// rawGuest is the module instantiated with wazero directly, to call exports without pluginhost.
type rawGuest struct {
	mod                     api.Module
	buffer, init, authorize api.Function
	stack                   []uint64
	sandboxed               bool
}

func newRawGuest(t testing.TB, sandboxed bool) *rawGuest {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(sandboxed))
	t.Cleanup(func() { _ = rt.Close(ctx) })
	mod, err := rt.InstantiateWithConfig(ctx, readModule(t), wazero.NewModuleConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &rawGuest{mod: mod, buffer: mod.ExportedFunction("opstream_buffer"), init: mod.ExportedFunction("authorizer_init"),
		authorize: mod.ExportedFunction("authorize"), stack: make([]uint64, 1), sandboxed: sandboxed}
}

// call writes in as the input and calls f; it returns the status and payload.
func (g *rawGuest) call(t testing.TB, f api.Function, in []byte) (byte, []byte) {
	ctx := context.Background()
	if g.sandboxed {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	g.stack[0] = uint64(len(in))
	if err := g.buffer.CallWithStack(ctx, g.stack); err != nil {
		t.Fatal(err)
	}
	g.mod.Memory().Write(uint32(g.stack[0]), in)
	g.stack[0] = uint64(len(in))
	if err := f.CallWithStack(ctx, g.stack); err != nil {
		t.Fatal(err)
	}
	out, ok := g.mod.Memory().Read(uint32(g.stack[0]>>32), uint32(g.stack[0]))
	if !ok || len(out) == 0 {
		t.Fatalf("bad result %#x", g.stack[0])
	}
	return out[0], out[1:]
}

// TestNoGrowthPerCall checks that the module allocates nothing per call (it is built with the
// stub runtime, which never frees): after warm-up, many calls, accepted and rejected, leave its
// memory the same size.
func TestNoGrowthPerCall(t *testing.T) {
	g := newRawGuest(t, false)
	if st, msg := g.call(t, g.init, []byte(config)); st != 0 {
		t.Fatalf("init: status %d: %s", st, msg)
	}
	reqs := []struct {
		req    string
		status byte
	}{
		{`{"action":"join","docId":"notes-1","token":"s3cret-ann","nowUnixMillis":1795000000000}`, 0},
		{`{"token":"a\u003cb\u0026c","headers":{"x":["y",1.5e3,true,null,{}]}}`, 0},
		{`{"token":"nobody"}`, 0},
		{`{"token":1}`, 1},
		{`{"token":"x"`, 1},
		{`[]`, 1},
		{`{"token":"x"} trailing`, 1},
	}
	for round := range 2 {
		size := g.mod.Memory().Size()
		for range 5000 {
			for _, r := range reqs {
				if st, msg := g.call(t, g.authorize, []byte(r.req)); st != r.status {
					t.Fatalf("%s: status %d (%s), want %d", r.req, st, msg, r.status)
				}
			}
		}
		if round > 0 && g.mod.Memory().Size() != size {
			t.Errorf("memory grew from %d to %d bytes over 35000 calls", size, g.mod.Memory().Size())
		}
	}
	if _, msg := g.call(t, g.authorize, []byte(`{"token":"a\u003cb\u0026c"}`)); !strings.Contains(string(msg), `"subject":"html \"quoted\"\n"`) {
		t.Errorf("decision %s", msg)
	}
}

// TestRawRequests sends requests pluginhost would not produce (escaped keys, nulls, odd
// spacing, malformed JSON) straight to the module.
func TestRawRequests(t *testing.T) {
	g := newRawGuest(t, false)
	if st, msg := g.call(t, g.init, []byte(config)); st != 0 {
		t.Fatalf("init: status %d: %s", st, msg)
	}
	for req, want := range map[string]string{
		`{"to\u006ben":"s3cret-ann"}`:             `"subject":"ann"`,
		" {\n\t\"token\" : \"s3cret-bob\" } \n":   `"subject":"bob"`,
		`{"token":"s3cret-ann","token":"nobody"}`: "unknown token",
		`{"token":null}`:                          "no token",
		`{}`:                                      "no token",
		`{"token":"j\u00fcrgen-\u043a\u043b\u044e\u0447-\ud83d\udd11"}`: `"tenant":"Zürich"`,
		`{"headers":{"token":"s3cret-ann"}}`:                            "no token",
		`{"token":1}`:                                                   "!token must be a string",
		`{"token":"s3cret-ann"`:                                         "!",
		`{"token":"s3cret-ann",}`:                                       "!",
		`{"token":"s3cret-ann"}{}`:                                      "!unexpected data",
		`{"token":"a\x"}`:                                               "!bad escape",
		"{\"token\":\"a\nb\"}":                                          "!control character",
		`{"n":01}`:                                                      "!",
		`{"n":[1,}`:                                                     "!",
		``:                                                              "!expected a JSON object",
	} {
		st, msg := g.call(t, g.authorize, []byte(req))
		rejected := strings.HasPrefix(want, "!")
		if rejected != (st == 1) || (st != 0 && st != 1) || !strings.Contains(string(msg), strings.TrimPrefix(want, "!")) {
			t.Errorf("%s: status %d %s; want %s", req, st, msg, want)
		}
	}
}

// BenchmarkGuestOnly calls the exports with wazero directly (no pluginhost: no JSON encoding
// of the request or decoding of the decision), to show what the guest itself costs: "trusted"
// with a plain context, "sandboxed" with WithCloseOnContextDone and a per-call deadline like
// pluginhost.
func BenchmarkGuestOnly(b *testing.B) {
	for _, sandboxed := range []bool{false, true} {
		name := map[bool]string{false: "trusted", true: "sandboxed"}[sandboxed]
		b.Run(name, func(b *testing.B) {
			g := newRawGuest(b, sandboxed)
			g.call(b, g.init, []byte(config))
			req := []byte(`{"action":"join","docId":"notes-1","token":"s3cret-ann","nowUnixMillis":1795000000000}`)
			if _, got := g.call(b, g.authorize, req); !strings.Contains(string(got), `"access":"write"`) {
				b.Fatalf("decision %s", got)
			}
			b.ReportAllocs()
			for b.Loop() {
				g.call(b, g.authorize, req)
			}
		})
	}
}
