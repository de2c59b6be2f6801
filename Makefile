# ipnd — see README.md.
BTCD_VERSION := v0.26.2
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO           ?= go
LDFLAGS      := -s -w -X main.version=$(VERSION)
# Every package's tests; integration tests use real MariaDB, btcd, litecoind and monerod.
# -artifacts keeps what tests save (the browser tests' screenshots) in _artifacts/.
TEST_FLAGS   ?= -count=1 -timeout 20m -artifacts

.PHONY: all build test bench lint demo clean

all: build

build: bin/ipnd

bin/ipnd: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/ipnd

# btcd for the Bitcoin regtest tests and the demo, built from the Go module proxy.
bin/btcd:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/btcsuite/btcd@$(BTCD_VERSION)

# Unit, contract and integration tests. Provides MariaDB, monero, litecoind and btcd or
# says what is missing (scripts/with-test-deps.sh); no integration test skips.
test: bin/btcd bin/ipnd
	@$(GO) vet ./...
	./scripts/with-test-deps.sh $(GO) test $(TEST_FLAGS) ./...

# Benchmarks; figures are printed, never asserted.
bench: bin/btcd
	./scripts/with-test-deps.sh $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: bin/btcd bin/ipnd
	./scripts/demo.sh

clean:
	rm -rf bin _artifacts ipnd.db ipnd.db-wal ipnd.db-shm

FORCE:
