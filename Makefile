# chronik-node build, run and test entry points. `make run` and `make test` are the two
# commands a newcomer needs; everything else is for developers.
GO        ?= go
BIN       := bin/chronik-node
PKGS      := ./...
FUZZTIME  ?= 10s
# What `chronik-node version`, the ready log line and the metrics call this build.
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: build run test test-unit test-e2e test-e2e-race bench fuzz lint clean

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/chronik-node

# One node on embedded defaults: Kafka on 127.0.0.1:9092, debug HTTP on 127.0.0.1:9644,
# data under ./data.
run: build
	./$(BIN)

test: lint test-unit test-e2e test-e2e-race

# Unit tests run with the race detector: most packages own goroutines or actors.
test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test)

# End-to-end tests build the binary and drive it over TCP with real Kafka clients.
test-e2e: build
	CHRONIK_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 14m ./test/...

# The same tests against a node built with the race detector: real clients drive the
# broker's goroutines (connections, partition actors, pooled buffers) harder than unit
# tests do, and a race the node reports fails the test it happened under.
test-e2e-race:
	$(GO) build -race -o $(BIN)-race ./cmd/chronik-node
	CHRONIK_BIN=$(CURDIR)/$(BIN)-race $(GO) test -count=1 -timeout 14m ./test/...

bench: build
	./scripts/bench.sh

fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
