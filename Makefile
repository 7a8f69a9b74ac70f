# siteverify: see `make help`.
GO       ?= go
BIN      := bin/siteverify
PKGS     := ./...

.DEFAULT_GOAL := help

## help: list the targets
.PHONY: help
help:
	@echo "siteverify make targets:"
	@awk -F': ' '/^## /{sub(/^## /,""); printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## deps: download the pinned Go modules
.PHONY: deps
deps:
	@$(GO) mod download

## tools: make sure Chromium, Flask, the real-library backends' packages (Debian's, as root) and the pinned npm fixtures are installed
.PHONY: tools
tools:
	@bash .ci/ensure-tools
	@bash .ci/ensure-npm

# The version stamp of every build: from git, since some machines set
# GOFLAGS=-buildvcs=false and the binary could not tell its own commit.
DIST_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST_COMMIT  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DIST_DATE    := $(shell git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_LDFLAGS := -X main.version=$(DIST_VERSION) -X main.commit=$(DIST_COMMIT) -X main.date=$(DIST_DATE)

## build: build bin/siteverify, and bin/refbackend (the reference backend the example targets start)
.PHONY: build
build: deps
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN) ./cmd/siteverify
	$(GO) build -o bin/refbackend ./fixtures/refbackend/cmd/refbackend

## dist: static release binaries for linux, darwin (amd64, arm64) and windows/amd64 in out/dist, with SHA256SUMS
DIST_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
.PHONY: dist
dist: deps
	@rm -rf out/dist && mkdir -p out/dist
	@for t in $(DIST_TARGETS); do \
	  os=$${t%/*}; arch=$${t#*/}; ext=; [ "$$os" = windows ] && ext=.exe; \
	  out=out/dist/siteverify-$(DIST_VERSION)-$$os-$$arch$$ext; echo "dist: $$out"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
	    -ldflags "-s -w $(VERSION_LDFLAGS)" \
	    -o $$out ./cmd/siteverify || exit 1; \
	done
	@cd out/dist && sha256sum siteverify-* > SHA256SUMS && cat SHA256SUMS

## test: every test, with -race, after gofmt, go vet and staticcheck (installs Chromium, Debian packages and pinned npm fixtures if missing)
.PHONY: test
test: deps tools lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

## lint: gofmt, go vet and staticcheck (pinned)
.PHONY: lint
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

## demo: build and run the whole toolkit against the built-in sample backend
.PHONY: demo
demo: build
	@bash .ci/ensure-tools chromium
	./$(BIN) demo

## generate: regenerate the catalog tables (suite/CATALOG.md and the README's)
.PHONY: generate
generate:
	$(GO) run ./suite/cmd/catalogmd

## bench: handler benchmarks, heap for 1M spent tokens and a worst-case journal, Enterprise REST vs gRPC vs bare servers, and the binary vs bare net/http under wrk
.PHONY: bench
bench: build wrk
	$(GO) test -run '^$$' -bench 'Issue|Verify' -benchmem ./mockserver
	$(GO) test -run '^$$' -bench 'SpentMemory|JournalMemory' -benchtime 1x ./mockserver
	$(GO) test -run '^$$' -bench Enterprise -benchmem ./mockserver/enterprisegrpc
	$(GO) run ./mockserver/internal/benchload --bin $(BIN)
	$(GO) test -run '^$$' -bench BrowserFlows -benchtime 3x ./browser

## soak: drive bin/siteverify for SOAK_DURATION (default 3m) on loopback; RSS, goroutines, single-use violations (not in make test)
SOAK_DURATION ?= 3m
.PHONY: soak
soak:
	$(GO) build -o $(BIN) ./cmd/siteverify
	$(GO) run ./mockserver/internal/soak --bin $(BIN) --duration $(SOAK_DURATION)

## wrk: make sure the wrk load generator is installed (installs Debian's package as root)
.PHONY: wrk
wrk:
	@command -v wrk >/dev/null 2>&1 && exit 0; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "wrk: not found; installing Debian's wrk package"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk not found: install it with  sudo apt-get install -y wrk" >&2; exit 1; fi

## fuzz: run each fuzz target for 30 s
.PHONY: fuzz
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzVerify -fuzztime 30s ./mockserver
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./mockserver/fixturefile
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./suite/target

## mutate: mutation testing of the mock's verify path and the suite's cases (gremlins; slow, not in make test)
.PHONY: mutate
mutate:
	@bash .ci/mutate

## clean: remove build output
.PHONY: clean
clean:
	rm -rf bin out
