# Flowgate build targets. `make test` is what CI runs (through .ci/run).
GO       ?= go
BIN      := bin
PKGS     := ./...

.PHONY: build run test lint bench fuzz clean

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

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
