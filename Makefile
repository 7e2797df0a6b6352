# logcollect: two commands do all set-up on a fresh machine —
#   make demo   runs the pipeline on the embedded dev stack (no Docker)
#   make test   runs every test (race detector on)
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/logcollect/logcollect/pkg/buildinfo.Version=$(VERSION)
MODULES := ./pkg/... ./logagent/... ./logtransfer/... ./devkit/... ./devkit/testkit/...
BIN := bin

.PHONY: all build deps test test-short bench lint devstack demo clean chaos FORCE

all: build

deps:
	@scripts/install-deps.sh

build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./devkit/cmd/devstack ./devkit/cmd/demo ./devkit/cmd/bench ./logagent/cmd/logagent ./logtransfer/cmd/logtransfer

# Every module, race detector on, integration tests against the embedded dev
# stack included. Product tests run the dev stack as a child process
# (devkit/testkit); they all reuse the bin/devstack built here.
DEVSTACK := $(CURDIR)/$(BIN)/devstack

$(DEVSTACK): FORCE
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(DEVSTACK) ./devkit/cmd/devstack

test: deps $(DEVSTACK)
	$(GO) vet $(MODULES)
	LOGCOLLECT_DEVSTACK=$(DEVSTACK) $(GO) test -race -count=1 -timeout 20m $(MODULES)

# Without the race detector, for a quick loop while editing.
test-short: $(DEVSTACK)
	LOGCOLLECT_DEVSTACK=$(DEVSTACK) $(GO) test -count=1 -timeout 10m $(MODULES)

# The crash, outage and bad-input suite at the issue's sizes (devkit/chaos;
# make test runs the short versions). Prints a figure table per scenario and
# appends them to .data/chaos-report.txt; see RELIABILITY.md.
chaos: deps build
	@mkdir -p .data
	set -o pipefail; CHAOS_FULL=1 CHAOS_REPORT=$(CURDIR)/.data/chaos-report.txt $(GO) test -count=1 -v -timeout 120m -run '$(or $(RUN),.)' ./devkit/chaos/ | grep -v '^        time='

# Real processes (broker, etcd, emulator, logagent, logtransfer), one table;
# several minutes. BENCH_ARGS scales it, e.g. BENCH_ARGS='-lines 200000'.
# Then the in-process micro-benchmarks. BENCHMARKS.md records the figures.
bench: deps build
	$(BIN)/bench all $(BENCH_ARGS)
	LOGCOLLECT_DEVSTACK=$(DEVSTACK) $(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(MODULES)

lint:
	$(GO) vet $(MODULES)
	@out=$$(gofmt -l pkg logagent logtransfer devkit); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

devstack:
	$(GO) run ./devkit/cmd/devstack $(ARGS)

# The whole pipeline on the embedded dev stack as real processes; Ctrl-C
# stops it. ARGS='-duration 60s -rate 1000' to vary the load.
demo: deps build
	$(BIN)/demo $(ARGS)

clean:
	rm -rf $(BIN) .data

FORCE:
