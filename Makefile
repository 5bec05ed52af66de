# Flowgate build targets. `make test` is what CI runs (through .ci/run).
GO       ?= go
BIN      := bin
PKGS     := ./...

.PHONY: build run test lint bench bench-serve soak fuzz clean

build:
	$(GO) build -o $(BIN)/gtc ./cmd/gtc
	$(GO) build -o $(BIN)/flowctl ./cmd/flowctl

# The example flows in sandbox mode: in-memory state, no credentials, nothing sent to Meta;
# the dev console is at the URL it prints. ADDR=127.0.0.1:9090 make run for another port.
ADDR ?= 127.0.0.1:8080
run: build
	$(BIN)/gtc serve --sandbox --addr $(ADDR) .

test:
	$(GO) test -count=1 $(PKGS)

# staticcheck is run at a pinned version through the Go module proxy; the first run downloads
# and builds it (a minute or two), later ones use the build cache.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

# The Go benchmarks, then the load test's table.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(MAKE) bench-serve

# Runs each fuzz target briefly; FUZZTIME=5m for a longer hunt.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)

# The load test (gtc loadtest): each scenario against the floor and gtc serve, with a private
# redis-server and a fake Graph API; prints the performance table's load test rows.
# LOADTEST="--scale 3" lengthens every scenario; see gtc loadtest -h.
LOADTEST ?=
bench-serve: build
	$(BIN)/gtc loadtest $(LOADTEST)

# Faults under load for minutes: Redis and gtc serve killed and restarted, the Graph API
# throttling and failing. A 20-second version runs in make test (loadtest.TestSoakShort).
SOAK ?= 3m
soak: build
	$(BIN)/gtc loadtest soak --duration $(SOAK)
