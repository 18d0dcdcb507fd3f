# Vigil developer targets (GNU make). `make test` is what CI runs.

GO        ?= go
BIN       := bin
# Inputs per fuzz target in `make test` and `make fuzz`: a count, because a
# duration races Go's fuzz coordinator and fails spuriously on a loaded
# machine with "context deadline exceeded" (go.dev/issue/75804).
FUZZTIME  ?= 200000x
# Fewer inputs for the targets that run whole command sequences through a
# server (a few thousand inputs a second, where a parser takes 60,000);
# `make fuzz FUZZCOUNTS=` gives them FUZZTIME too.
FUZZCOUNTS ?= FuzzCommands=50000x FuzzPropagation=20000x FuzzBlocking=3000x FuzzSentinelCommands=20000x FuzzPeerInput=20000x
# Extra flags for `go test` in `make test`, e.g. TESTFLAGS=-v.
TESTFLAGS ?=
# Extra flags for the benchmark tool, e.g. BENCHFLAGS="-quick -suite memory".
BENCHFLAGS ?=
BENCH_OUT ?= bench/out/bench-$(shell date +%Y%m%d-%H%M%S).txt

# Every `func FuzzXxx(f *testing.F)` in a _test.go file, as "dir:FuzzXxx".
FUZZ_TARGETS = $(shell grep -rE --include='*_test.go' --exclude-dir=.git --exclude-dir=run --exclude-dir=bin \
	-o '^func Fuzz[A-Za-z0-9_]*' . | sed -E 's|^\./||; s|/[^/]*_test\.go:func |:|')

.PHONY: all build run test lint vet fmt-check fuzz bench drill drill-docker images clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/vigil-server ./cmd/server
	$(GO) build -o $(BIN)/vigil-sentinel ./cmd/sentinel
	$(GO) build -o $(BIN)/vigil-drill ./cmd/drill

# A local deployment on 127.0.0.1:6379 with data in ./run/; Ctrl-C stops it.
run: build
	$(GO) build -o $(BIN)/vigil-local ./deploy/local
	./$(BIN)/vigil-local -bin $(BIN) -dir run

# Chaos failover drills against a fresh local topology (see README).
DRILLFLAGS ?=
drill: build
	./$(BIN)/vigil-drill -bin $(BIN) $(DRILLFLAGS)

# The compose deployment's drills (docker kill, pause, network disconnect
# of the master) in their long form: COMPOSE_RUNS fresh deployments per
# drill, more load, the fault held longer; prints a table of figures.
COMPOSE_RUNS ?= 3
drill-docker:
	VIGIL_COMPOSE_LONG=1 VIGIL_COMPOSE_RUNS=$(COMPOSE_RUNS) $(GO) test -count=1 -v -timeout 60m -run TestComposeDrills ./e2e/compose

# The container image for deploy/compose: static binaries FROM scratch.
IMAGE ?= vigil:latest
images:
	@mkdir -p $(BIN)/image
	CGO_ENABLED=0 $(GO) build -o $(BIN)/image/vigil-server ./cmd/server
	CGO_ENABLED=0 $(GO) build -o $(BIN)/image/vigil-sentinel ./cmd/sentinel
	docker build -q -f deploy/compose/Dockerfile -t $(IMAGE) $(BIN)/image

vet:
	$(GO) vet ./...

# gofmt -l must print nothing (testdata may hold deliberately odd files).
fmt-check:
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './run/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

lint: fmt-check vet

# vet, gofmt, every test with the race detector (the e2e tests use the
# binaries built here), then a short run of every fuzz target.
test: lint build
	VIGIL_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 14m $(TESTFLAGS) ./...
	@# The clock drill jumps the host's wall clock 5 s each way, so it runs
	@# alone, after everything else (skipped where the clock cannot be set).
	VIGIL_BIN_DIR=$(CURDIR)/$(BIN) VIGIL_CLOCK_DRILL=1 VIGIL_CLOCK_JUMP=5s $(GO) test -count=1 -run 'TestDrills/clock$$' $(TESTFLAGS) ./cmd/drill
	@$(MAKE) --no-print-directory fuzz

fuzz:
	@set -e; if [ -z "$(strip $(FUZZ_TARGETS))" ]; then echo "no fuzz targets"; exit 0; fi; \
	for t in $(FUZZ_TARGETS); do \
		dir=$${t%%:*}; name=$${t##*:}; n=$(FUZZTIME); \
		for c in $(FUZZCOUNTS); do if [ "$${c%%=*}" = "$$name" ]; then n=$${c#*=}; fi; done; \
		echo "fuzz $$name in ./$$dir ($$n)"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$$n ./$$dir; \
	done

# vigil-server and redis-server side by side; the report is also saved
# under bench/out/.
bench: build
	$(GO) run ./bench -vigil $(BIN)/vigil-server -out $(BENCH_OUT) $(BENCHFLAGS)

clean:
	rm -rf $(BIN) bench/out
