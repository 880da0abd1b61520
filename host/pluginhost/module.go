package pluginhost

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/opstream/opstream/pluginsdk/wasm"
)

// probeTimeout bounds each probe call (opstream_abi_version, opstream_info) at load.
const probeTimeout = time.Second

// probeMaxOutput bounds the manifest's size.
const probeMaxOutput = 64 << 10

// Info describes a module, for `opstream plugin inspect` and logs.
type Info struct {
	// Name is the name the module was loaded under (not the manifest's).
	Name string
	// Size is the .wasm size in bytes.
	Size int
	// ABIVersion is what opstream_abi_version returned; zero when it was not called.
	ABIVersion int32
	// Manifest is what opstream_info returned.
	Manifest wasm.Manifest
	// Imports lists imported functions as "module.name", sorted.
	Imports []string
	// Exports lists exported function names, sorted.
	Exports []string
}

// Module is a compiled module that passed the load checks. Make Engines or Authorizers from
// it; it is safe for concurrent use. Close it after them.
type Module struct {
	rt       *Runtime
	name     string
	compiled wazero.CompiledModule
	info     Info
	hasInit  bool

	closeOnce sync.Once
}

// sig is an export's expected signature.
type sig struct {
	params, results []api.ValueType
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

var commonExports = map[string]sig{
	wasm.ExportABIVersion: {nil, []api.ValueType{i32}},
	wasm.ExportInfo:       {nil, []api.ValueType{i64}},
	wasm.ExportBuffer:     {[]api.ValueType{i32}, []api.ValueType{i32}},
}

var roleExports = map[string]map[string]sig{
	wasm.RoleEngine: {
		wasm.ExportEngineEmpty:     {nil, []api.ValueType{i64}},
		wasm.ExportEngineOpen:      {[]api.ValueType{i32}, []api.ValueType{i64}},
		wasm.ExportEngineClose:     {[]api.ValueType{i32}, nil},
		wasm.ExportEngineSnapshot:  {[]api.ValueType{i32}, []api.ValueType{i64}},
		wasm.ExportEngineApply:     {[]api.ValueType{i32, i32, i32}, []api.ValueType{i64}},
		wasm.ExportEngineTransform: {[]api.ValueType{i32, i32}, []api.ValueType{i64}},
		wasm.ExportEngineValidate:  {[]api.ValueType{i32}, []api.ValueType{i64}},
	},
	wasm.RoleAuthorizer: {
		wasm.ExportAuthorizerInit: {[]api.ValueType{i32}, []api.ValueType{i64}},
		wasm.ExportAuthorize:      {[]api.ValueType{i32}, []api.ValueType{i64}},
	},
}

var optionalExports = map[string]sig{
	wasm.ExportEngineCompose: {[]api.ValueType{i32}, []api.ValueType{i64}},
	wasm.ExportInitialize:    {nil, nil},
}

// capabilityCompose is the manifest capability that promises engine_compose.
const capabilityCompose = "compose"

// Compile compiles wasm once and checks it against ABI v1: imports only from
// wasi_snapshot_preview1, the common and per-role exports with their signatures, then one
// probe instance for opstream_abi_version (must equal wasm.ABIVersion) and opstream_info
// (the manifest). A module that does not fit is refused with an error wrapping ErrBadModule
// that says what is wrong.
func (r *Runtime) Compile(ctx context.Context, name string, bin []byte) (*Module, error) {
	m, err := r.compile(ctx, name, bin)
	if err != nil {
		if m != nil {
			_ = m.compiled.Close(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return m, nil
}

// Inspect compiles and checks wasm like Compile, returns what it learnt (as far as it got
// when the module is refused) and releases the compiled code.
func (r *Runtime) Inspect(ctx context.Context, name string, bin []byte) (Info, error) {
	m, err := r.compile(ctx, name, bin)
	if m == nil {
		return Info{Name: name, Size: len(bin)}, err
	}
	_ = m.compiled.Close(context.WithoutCancel(ctx))
	return m.info, err
}

func (r *Runtime) compile(ctx context.Context, name string, bin []byte) (*Module, error) {
	if r.isClosed() {
		return nil, fmt.Errorf("compile module %s: runtime %w", name, ErrClosed)
	}
	compiled, err := r.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("compile module %s: %w: %w", name, ErrBadModule, err)
	}
	m := &Module{rt: r, name: name, compiled: compiled, info: Info{Name: name, Size: len(bin)}}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("load module %s: %w: "+format, append([]any{name, ErrBadModule}, args...)...)
	}

	var forbidden error
	for _, f := range compiled.ImportedFunctions() {
		mod, fname, _ := f.Import()
		m.info.Imports = append(m.info.Imports, mod+"."+fname)
		if forbidden != nil {
			continue
		}
		if mod == hostModule {
			if !hostFuncs[fname] {
				forbidden = bad("module %s imports %s.%s, which this host does not provide", name, mod, fname)
			}
		} else if mod != wasiModule {
			forbidden = bad("module %s imports %s.%s, which is not allowed (a module may import only from %s and %s)", name, mod, fname, wasiModule, hostModule)
		} else if !r.wasiFuncs[fname] {
			forbidden = bad("module %s imports %s.%s, which this host does not provide", name, mod, fname)
		}
	}
	exports := compiled.ExportedFunctions()
	for e := range exports {
		m.info.Exports = append(m.info.Exports, e)
	}
	slices.Sort(m.info.Imports)
	slices.Sort(m.info.Exports)
	if forbidden != nil {
		return m, forbidden
	}
	if len(compiled.ImportedMemories()) > 0 {
		return m, bad("module %s imports a memory; it must define and export its own", name)
	}
	if _, ok := compiled.ExportedMemories()[wasm.ExportMemory]; !ok {
		return m, bad("module %s does not export %q", name, wasm.ExportMemory)
	}
	if err := checkExports(name, exports, commonExports, true); err != nil {
		return m, err
	}
	if err := checkExports(name, exports, optionalExports, false); err != nil {
		return m, err
	}
	_, m.hasInit = exports[wasm.ExportInitialize]

	if err := m.probe(ctx); err != nil {
		return m, err
	}
	man := m.info.Manifest
	want, ok := roleExports[man.Role]
	if !ok {
		return m, bad("module %s declares role %q; want %q or %q", name, man.Role, wasm.RoleEngine, wasm.RoleAuthorizer)
	}
	if err := checkExports(name, exports, want, true); err != nil {
		return m, err
	}
	if man.Role == wasm.RoleEngine {
		if man.DocType == "" {
			return m, bad("engine module %s declares no docType in its manifest", name)
		}
		if slices.Contains(man.Capabilities, capabilityCompose) {
			if _, ok := exports[wasm.ExportEngineCompose]; !ok {
				return m, bad("module %s declares capability %q but does not export %s", name, capabilityCompose, wasm.ExportEngineCompose)
			}
		}
	}
	return m, nil
}

// checkExports checks that each export in want has its signature (and exists, if required).
func checkExports(name string, have map[string]api.FunctionDefinition, want map[string]sig, required bool) error {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic messages
	for _, e := range keys {
		s := want[e]
		def, ok := have[e]
		if !ok {
			if required {
				return fmt.Errorf("load module %s: %w: module %s does not export %s", name, ErrBadModule, name, e)
			}
			continue
		}
		if !slices.Equal(def.ParamTypes(), s.params) || !slices.Equal(def.ResultTypes(), s.results) {
			return fmt.Errorf("load module %s: %w: export %s has signature %s, want %s", name, ErrBadModule, e,
				sigString(def.ParamTypes(), def.ResultTypes()), sigString(s.params, s.results))
		}
	}
	return nil
}

func sigString(params, results []api.ValueType) string {
	str := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return str(params) + " -> " + str(results)
}

// probe instantiates the module once to read its ABI version and manifest.
func (m *Module) probe(ctx context.Context) error {
	in, err := newInstance(ctx, m, probeMaxOutput)
	if err != nil {
		return fmt.Errorf("load module %s: %w: probe: %w", m.name, ErrBadModule, err)
	}
	defer in.close(ctx)

	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	s := in.stack[:1]
	if err := in.fns[fnABI].CallWithStack(pctx, s); err != nil {
		return fmt.Errorf("load module %s: %w: %w", m.name, ErrBadModule, in.fail(pctx, fnABI, err))
	}
	m.info.ABIVersion = api.DecodeI32(s[0])
	if m.info.ABIVersion != wasm.ABIVersion {
		return fmt.Errorf("load module %s: %w: module implements ABI version %d, this host implements version %d",
			m.name, ErrBadModule, m.info.ABIVersion, wasm.ABIVersion)
	}
	raw, err := in.call(pctx, fnInfo)
	if err != nil {
		return fmt.Errorf("load module %s: %w: %w", m.name, ErrBadModule, err)
	}
	var man wasm.Manifest
	if err := json.Unmarshal(raw, &man); err != nil {
		return fmt.Errorf("load module %s: %w: manifest: %w", m.name, ErrBadModule, err)
	}
	m.info.Manifest = man
	if man.ABI != wasm.ABIVersion {
		return fmt.Errorf("load module %s: %w: manifest says ABI version %d, this host implements version %d",
			m.name, ErrBadModule, man.ABI, wasm.ABIVersion)
	}
	if man.Name == "" {
		return fmt.Errorf("load module %s: %w: manifest has no name", m.name, ErrBadModule)
	}
	return nil
}

// Name is the name the module was loaded under.
func (m *Module) Name() string { return m.name }

// Manifest is the module's manifest, from opstream_info.
func (m *Module) Manifest() wasm.Manifest { return m.info.Manifest }

// Info describes the module.
func (m *Module) Info() Info { return m.info }

// Close releases the compiled code. Close the Engines and Authorizers made from the module
// first. Close is idempotent.
func (m *Module) Close(ctx context.Context) error {
	var err error
	m.closeOnce.Do(func() {
		if cerr := m.compiled.Close(ctx); cerr != nil {
			err = fmt.Errorf("close module %s: %w", m.name, cerr)
		}
	})
	return err
}

// requireRole refuses a module used in a role it does not declare.
func (m *Module) requireRole(role string) error {
	if m.info.Manifest.Role != role {
		return fmt.Errorf("module %s declares role %q, not %q: %w: %w", m.name, m.info.Manifest.Role, role, ErrBadModule, ErrWrongRole)
	}
	return nil
}
