# OpStream build. `make build` compiles the WASM modules (embedded into the binary) and the
# server at bin/opstream; `make test` runs the whole suite; `make run` starts a dev server.
GO        ?= go
WASMENV   := GOOS=wasip1 GOARCH=wasm
WASMBUILD := $(WASMENV) $(GO) build -buildmode=c-shared -trimpath -ldflags=-s
BUILTIN   := host/builtin/wasm
WASM_SRC  := $(shell find pluginsdk plugins -name '*.go' -not -name '*_test.go')
GO_SRC    := $(shell find . -name '*.go' -not -path './node_modules/*')
TESTFLAGS ?= -race -timeout 20m
export OPSTREAM_TEST_CACHE ?= $(CURDIR)/.cache/test

.PHONY: all build wasm run cluster test test-short bench fuzz lint check clean

all: build

build: wasm bin/opstream

wasm: $(BUILTIN)/text.wasm $(BUILTIN)/allow-all.wasm bin/plugins/text.wasm bin/plugins/allow-all.wasm bin/plugins/acl.wasm \
      bin/plugins/tokens.wasm bin/plugins/counter.wasm bin/plugins/jwt.wasm bin/plugins/json0.wasm bin/plugins/rich-text.wasm \
      bin/plugins/form.wasm bin/plugins/json.wasm bin/plugins/tree.wasm bin/plugins/table.wasm

$(BUILTIN)/text.wasm: $(WASM_SRC)
	$(WASMBUILD) -o $@ ./plugins/transforms/text/wasm

$(BUILTIN)/allow-all.wasm: $(WASM_SRC)
	$(WASMBUILD) -o $@ ./plugins/authorizers/allowall

bin/plugins/acl.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/authorizers/acl/wasm

bin/plugins/jwt.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/authorizers/jwt/wasm

bin/plugins/json0.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/transforms/json0/wasm

bin/plugins/rich-text.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/transforms/richtext/wasm

bin/plugins/form.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/transforms/form/wasm

bin/plugins/json.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/transforms/jsoncrdt/wasm

bin/plugins/tree.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/transforms/tree/wasm

bin/plugins/table.wasm: $(WASM_SRC)
	@mkdir -p bin/plugins
	$(WASMBUILD) -o $@ ./plugins/transforms/table/wasm

# AssemblyScript modules (pluginsdk/assemblyscript): npm ci installs the pinned compiler, asc
# builds each module with no runtime GC and no imports (abort removed: a failed check traps).
AS_SDK     := pluginsdk/assemblyscript
ASC        := $(AS_SDK)/node_modules/.bin/asc
ASCFLAGS   := -O3 --runtime stub --use abort= --noAssert
AS_SDK_SRC := $(wildcard $(AS_SDK)/assembly/*.ts)

$(AS_SDK)/node_modules/.package-lock.json: $(AS_SDK)/package.json $(AS_SDK)/package-lock.json
	cd $(AS_SDK) && npm ci --no-audit --no-fund
	@touch $@

bin/plugins/tokens.wasm: $(AS_SDK)/node_modules/.package-lock.json $(AS_SDK_SRC) $(wildcard plugins/authorizers/tokens/assembly/*.ts)
	@mkdir -p bin/plugins
	$(ASC) plugins/authorizers/tokens/assembly/index.ts $(ASCFLAGS) -o $@

bin/plugins/counter.wasm: $(AS_SDK)/node_modules/.package-lock.json $(AS_SDK_SRC) $(wildcard plugins/transforms/counter/assembly/*.ts)
	@mkdir -p bin/plugins
	$(ASC) plugins/transforms/counter/assembly/index.ts $(ASCFLAGS) -o $@

bin/plugins/%.wasm: $(BUILTIN)/%.wasm
	@mkdir -p bin/plugins
	cp $< $@

# The JavaScript client and the demo (clients/js): npm ci installs the pinned tools when the lock
# changes; esbuild bundles the demo into host/demo/dist, which the binary embeds.
JS        := clients/js
JS_SRC    := $(shell find $(JS)/src $(JS)/demo -type f) $(JS)/build.mjs $(wildcard $(JS)/tsconfig*.json)
DEMO_DIST := host/demo/dist/index.html

$(JS)/node_modules/.package-lock.json: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund
	@touch $@

$(DEMO_DIST): $(JS)/node_modules/.package-lock.json $(JS_SRC)
	cd $(JS) && npm run build

bin/opstream: $(DEMO_DIST)

.PHONY: test-js
test: test-js

# The client's tests against the real binary: OT convergence in Node, the demo in chromium.
test-js: build
	cd $(JS) && OPSTREAM_BIN=$(CURDIR)/bin/opstream npm test

# Checksums of the modules this build ships: the server runs exactly these builds trusted
# (host/builtin.Shipped); any other module file is sandboxed.
$(BUILTIN)/shipped.sha256: wasm
	cd bin/plugins && sha256sum *.wasm > ../../$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

bin/opstream: $(GO_SRC) $(BUILTIN)/text.wasm $(BUILTIN)/allow-all.wasm $(BUILTIN)/shipped.sha256 go.mod go.sum
	$(GO) build -trimpath -o $@ ./cmd/opstream

run: build
	./bin/opstream serve

# A local three-node cluster: redis-server (backplane and shared store) and nodes on
# 127.0.0.1:7071-7073. Needs redis-server on the PATH.
cluster: build
	./bin/opstream dev cluster --nodes 3

test: build
	$(GO) vet ./...
	OPSTREAM_BIN=$(CURDIR)/bin/opstream $(GO) test $(TESTFLAGS) ./...

test-short: build
	OPSTREAM_BIN=$(CURDIR)/bin/opstream $(GO) test -short ./...

bench: build
	OPSTREAM_BIN=$(CURDIR)/bin/opstream $(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeFrame -fuzztime 30s ./protocol

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(WASMENV) $(GO) vet ./plugins/transforms/text/wasm ./plugins/authorizers/allowall ./plugins/authorizers/acl/wasm

check: lint
	$(GO) mod tidy
	git diff --exit-code

clean:
	rm -rf bin .cache $(BUILTIN)/*.wasm
