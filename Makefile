# cordon — build, test, demo, bench.
GO      ?= go
BIN     := bin/cordon
# The in-sandbox init stage, built on its own and embedded in cordon (see
# sandbox/linux/initimage): every command starts through it.
INIT_IMAGE := sandbox/linux/initimage/cordon-init.bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME ?= 4000x

.PHONY: unit-landlock all build test unit mutate fuzz lint demo bench deps server-e2e editors-test e2e-vscode clean

all: build

# Static (no cgo): the binary starts faster, twice per command, and does
# not depend on the libc it finds inside a sandbox.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $(INIT_IMAGE) ./sandbox/linux/initimage/cordon-init
	CGO_ENABLED=0 $(GO) build -tags cordon_init_image -o $(BIN) ./cmd/cordon

# deps installs what the sandbox and the tests need (Debian/Ubuntu).
deps:
	@missing=""; \
	for p in bwrap:bubblewrap nvim:neovim sshd:openssh-server ssh:openssh-client curl:curl python3:python3 ip:iproute2; do \
	  command -v $${p%%:*} >/dev/null 2>&1 || missing="$$missing $${p#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# test runs everything CI runs: vet, unit and end-to-end tests under -race,
# short fuzzing of every parser, and the editor integrations.
test: deps build lint unit unit-landlock fuzz server-e2e editors-test

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags cordon_init_image ./sandbox/linux/initimage ./cmd/cordon
	$(GO) vet ./testdata/scripts/mutate
	@# The macOS backend is built and vetted for both Mac architectures
	@# (its profiles are tested on Linux; see sandbox/darwin).
	for arch in arm64 amd64; do \
	  GOOS=darwin GOARCH=$$arch $(GO) build ./... && GOOS=darwin GOARCH=$$arch $(GO) vet ./... || exit 1; \
	done

# Every skipped sandbox test is logged (sandboxtest.Skip) and counted last.
SKIP_LOG := $(CURDIR)/bin/skips.log

unit: build
	@rm -f $(SKIP_LOG)
	CORDON_SKIP_LOG=$(SKIP_LOG) $(GO) test -race -count=1 -timeout 12m ./...
	@testdata/scripts/skips.sh $(SKIP_LOG)

# unit-landlock runs the attack tests of the real binary again the way a
# machine without user namespaces would (Docker, Ubuntu's AppArmor
# restriction): each cordon inside `unshare -U -r` with
# max_user_namespaces 0, where bwrap fails and cordon chooses the Landlock
# + seccomp backend by itself. Documented exceptions are listed last.
LANDLOCK_TESTS := TestAttack|TestNoDirectNetwork|TestNetworkThroughTheProxy|TestUnixSockets|TestEnvironmentScrubbed|TestLimits|TestConcurrentRuns|TestPatternsAtAnyDepth|TestNoUserNamespaces
EXCEPTION_LOG := $(CURDIR)/bin/landlock-exceptions.log
unit-landlock: build
	@rm -f $(EXCEPTION_LOG)
	CORDON_TEST_NOUSERNS=1 CORDON_SKIP_LOG=$(SKIP_LOG) CORDON_EXCEPTION_LOG=$(EXCEPTION_LOG) \
	  $(GO) test -race -count=1 -timeout 8m -run '$(LANDLOCK_TESTS)' ./cmd/cordon
	@if [ -s $(EXCEPTION_LOG) ]; then sort -u $(EXCEPTION_LOG) | sed 's/^/  landlock exception: /'; fi
	@testdata/scripts/skips.sh $(SKIP_LOG)

# mutate breaks each security-critical line listed in a mutations.txt, one
# at a time in a scratch copy, and fails unless a test catches it (see
# README "Tests that prove they ran"). MUTATE=REGEXP runs only matching rows.
mutate:
	$(GO) run ./testdata/scripts/mutate $(if $(MUTATE),-only '$(MUTATE)')

fuzz:
	@testdata/scripts/fuzz.sh $(FUZZTIME)

# server-e2e drives the real cordon lsp from Node with vscode-jsonrpc.
server-e2e: build
	$(MAKE) -C server/e2e test CORDON=$(CURDIR)/$(BIN)

editors-test: build
	$(MAKE) -C editors test CORDON=$(CURDIR)/$(BIN)

# demo runs one sandboxed command in a scratch workspace on the built-in defaults.
demo: deps build
	@testdata/scripts/demo.sh $(CURDIR)/$(BIN)

# bench measures start-up, policy build, network and editor figures against
# their baselines in the same run (see README "Performance").
bench: deps build
	@testdata/scripts/bench.sh $(CURDIR)/$(BIN)

e2e-vscode: build
	$(MAKE) -C editors e2e-vscode CORDON=$(CURDIR)/$(BIN)

clean:
	rm -rf bin $(INIT_IMAGE)
