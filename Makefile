# shopstream's everyday commands. `make` (or `make help`) lists them; the text
# after `## ` on a target's line is its description.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

GO ?= go
# staticcheck 2026.2.2 (v0.8.2) is the first release checked to work with go1.26.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo "$$($(GO) env GOPATH)/bin/staticcheck")
FUZZTIME ?= 20s
# Go files to format-check: all but fetched or generated trees.
GOFILES = $(shell find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -not -path './test/kafka/*')

.PHONY: help build run test lint container-test kafka-test bench spark-bench fuzz clean postgres-server chromium staticcheck parity vuln

help: ## List the targets and what each does (the default)
	@echo "Usage: make <target>"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# The build's version, commit and date, shown by `shopstream version` and the
# shopstream_build_info metric.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS = -X github.com/shopstream/shopstream/internal/cli.version=$(VERSION) \
	-X github.com/shopstream/shopstream/internal/cli.commit=$(COMMIT) \
	-X github.com/shopstream/shopstream/internal/cli.date=$(BUILD_DATE)

# The binaries users run are built with go.mod's toolchain line (its
# standard library has the security fixes the go line's may lack), fetched
# by the go command when the host's Go is older, even where GOTOOLCHAIN is
# set to local (Debian's golang and the golang images set it so).
build: ## Build the binary into bin/shopstream with go.mod's toolchain, stamped with its version, commit and date
	GOTOOLCHAIN=auto $(GO) build -ldflags "$(LDFLAGS)" -o bin/shopstream ./cmd/shopstream

run: ## Run everything in one process on embedded defaults (dashboard on :8050)
	GOTOOLCHAIN=auto $(GO) run ./cmd/shopstream run

# The long single-goroutine model checks (fraud evaluations over months of
# a generated shop, the closed A/B loop, the generator's share statistics,
# the bench's simulated history span) skip themselves under -race
# (internal/testrace), where they ran 5 to 10 times slower and took over
# half the suite's time; make test runs them once more without it. internal/archtest checks these two lists against
# the tests that call testrace.SkipUnderRace.
HEAVY_PKGS = ./internal/abtest ./internal/bench ./internal/cli ./internal/evaluate ./internal/generate
HEAVY_TESTS = TestClosedLoop|TestSimulatedStart|TestFraudEvalDemo|TestEvaluateDemoShop|TestEvaluateDefaultMix|TestEvaluateEntityModel|TestEvaluateEntityRules|TestShippingAddressShares|TestHonestBehaviourShares|TestShippingAddressesOfAGrowingBase|TestRunRampNoVolumeFindingAtLive

# SQLite's engine (modernc.org/sqlite/lib, C translated to Go) is built
# without the race detector's instrumentation, as the C library would be
# through cgo: instrumented, every memory access of the engine was checked,
# and SQLite-bound tests ran 4 to 5 times slower (the SQLite conformance
# suite 28.5 s against 6.1 s, TestFraudEvalLive 177 s against 46 s:
# go test -race [-gcflags='$(RACE_GCFLAGS)'] -count=1 -run TestConformance
# ./internal/store/sqlite, the same with -run '^TestFraudEvalLive$'
# ./internal/cli). Our
# code, the rest of modernc (libc, whose locks SQLite's take) and every other
# dependency stay instrumented.
RACE_GCFLAGS = modernc.org/sqlite/lib=-race=false

test: postgres-server chromium ## Run all tests once: race detector, random order; then the long model checks without it (installs the PostgreSQL server if missing and root)
	@echo "==> go test -race -gcflags='$(RACE_GCFLAGS)' -shuffle=on -count=1 -timeout 30m ./...$(if $(SHOPSTREAM_TEST_KAFKA), (integration suite also against the real Kafka at $(SHOPSTREAM_TEST_KAFKA)),)"
	$(GO) test -race -gcflags='$(RACE_GCFLAGS)' -shuffle=on -count=1 -timeout 30m ./...
	@echo "==> the long model checks, without -race: go test -shuffle=on -count=1 -run '^(HEAVY_TESTS)$$' $(HEAVY_PKGS)"
	$(GO) test -shuffle=on -count=1 -timeout 30m -run '^($(HEAVY_TESTS))$$' $(HEAVY_PKGS)

# The parity suite's Python peers live in a virtualenv under the repository
# (ignored by git), with the versions test/parity/requirements.txt pins.
PARITY_VENV ?= .venv-parity
PYTHON ?= python3

parity: build ## Compare shopstream with pandas, lifetimes and scikit-learn on the datasets (test/parity; installs the peers with pip into .venv-parity)
	@test -x $(PARITY_VENV)/bin/python || $(PYTHON) -m venv $(PARITY_VENV)
	@$(PARITY_VENV)/bin/pip install --quiet --disable-pip-version-check -r test/parity/requirements.txt
	$(PARITY_VENV)/bin/python test/parity/parity.py --bin bin/shopstream --data testdata/datasets

# The store tests start a throwaway PostgreSQL (internal/store/pgtest) and need
# its server binaries, unless SHOPSTREAM_TEST_POSTGRES names a server to use.
postgres-server:
	@have_pg() { \
		local d; \
		d="$$(pg_config --bindir 2>/dev/null)" && [[ -x "$$d/initdb" && -x "$$d/pg_ctl" ]] && return 0; \
		command -v initdb >/dev/null && command -v pg_ctl >/dev/null && return 0; \
		for d in /usr/lib/postgresql/*/bin; do [[ -x "$$d/initdb" && -x "$$d/pg_ctl" ]] && return 0; done; \
		return 1; \
	}; \
	if [[ -n "$${SHOPSTREAM_TEST_POSTGRES:-}" ]]; then \
		echo "==> PostgreSQL: using the server in SHOPSTREAM_TEST_POSTGRES"; \
	elif have_pg; then \
		echo "==> PostgreSQL: server binaries found; tests start a throwaway cluster"; \
	elif [[ "$$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then \
		echo "==> PostgreSQL: server binaries missing; installing them (apt-get install -y postgresql)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends postgresql; \
	elif [[ "$${SHOPSTREAM_SKIP_POSTGRES:-}" == 1 ]]; then \
		echo "==> PostgreSQL: server binaries missing; SHOPSTREAM_SKIP_POSTGRES=1, so the tests that need them are skipped"; \
	else \
		echo "PostgreSQL server binaries (initdb, pg_ctl) are missing, and the store tests need them. Either:" >&2; \
		echo "  - install them: sudo apt-get install -y postgresql (Debian/Ubuntu), or your system's PostgreSQL server package;" >&2; \
		echo "  - or point the tests at a server where the user may create databases:" >&2; \
		echo "      SHOPSTREAM_TEST_POSTGRES=postgres://user:pass@127.0.0.1:5432/postgres?sslmode=disable make test" >&2; \
		echo "  - or skip those tests: SHOPSTREAM_SKIP_POSTGRES=1 make test" >&2; \
		exit 1; \
	fi

# The dashboard's browser test drives Debian's Chromium (internal/web); without
# it that test is skipped (outside CI) with a message.
chromium:
	@if command -v chromium >/dev/null || [[ -n "$${SHOPSTREAM_CHROMIUM:-}" ]]; then \
		echo "==> Chromium: found; the dashboard's browser test runs"; \
	elif [[ "$$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then \
		echo "==> Chromium: missing; installing it for the dashboard's browser test (apt-get install -y chromium)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends chromium; \
	else \
		echo "==> Chromium: missing and not root, so not installed; the dashboard's browser test will be skipped (install chromium, or set SHOPSTREAM_CHROMIUM to a Chromium binary)"; \
	fi

lint: staticcheck ## Check formatting (gofmt), then go vet and staticcheck
	@echo "==> gofmt -l"
	@unformatted="$$(gofmt -l $(GOFILES))"; \
	if [[ -n "$$unformatted" ]]; then echo "not gofmt-ed (run gofmt -w on them):"; echo "$$unformatted"; exit 1; fi
	@echo "==> go vet ./..."
	$(GO) vet ./...
	@echo "==> staticcheck ./..."
	$(STATICCHECK) ./...

# Installs staticcheck $(STATICCHECK_VERSION) when it is missing or another version.
staticcheck:
	@if ! "$(STATICCHECK)" -version 2>/dev/null | grep -q "($(STATICCHECK_VERSION:v%=%))"; then \
		echo "==> go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi

# govulncheck and the Go vulnerability database, both pinned. vuln.go.dev is
# not reachable from CI, but the module proxy is: it serves the database's
# OSV files as the module golang.org/x/vulndb (data/osv), and that module's
# own cmd/indexdb turns them into the layout `govulncheck -db file://` reads
# (index/db.json, index/modules.json, ID/*.json). The index is built once
# per version under VULNDB_DIR. The scan runs with the toolchain go.mod names
# (GOTOOLCHAIN=auto unless set): the standard library is checked too.
GOVULNCHECK_VERSION ?= v1.9.0
VULNDB_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNDB_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/shopstream/vulndb/$(VULNDB_VERSION)
GOVULNCHECK ?= $(shell $(GO) env GOPATH)/bin/govulncheck

vuln: ## Report known vulnerabilities in code the build calls (govulncheck, offline database from the module proxy); fails on any in called code
	@if ! "$(GOVULNCHECK)" -version 2>/dev/null | grep -q "govulncheck@$(GOVULNCHECK_VERSION)"; then \
		echo "==> go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)"; \
		$(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION); \
	fi
	@if [[ ! -s "$(VULNDB_DIR)/index/db.json" ]]; then \
		echo "==> building the vulnerability database golang.org/x/vulndb@$(VULNDB_VERSION) into $(VULNDB_DIR)"; \
		src="$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')"; \
		[[ -d "$$src/data/osv" ]] || { echo "golang.org/x/vulndb@$(VULNDB_VERSION) has no data/osv" >&2; exit 1; }; \
		rm -rf "$(VULNDB_DIR).tmp"; mkdir -p "$$(dirname "$(VULNDB_DIR)")"; \
		$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns "$$src/data/osv" -out "$(VULNDB_DIR).tmp"; \
		mv "$(VULNDB_DIR).tmp" "$(VULNDB_DIR)"; \
	fi
	@echo "==> govulncheck -db file://$(VULNDB_DIR) ./... (with $$(GOTOOLCHAIN=$${GOTOOLCHAIN:-auto} $(GO) env GOVERSION))"
	GOTOOLCHAIN=$${GOTOOLCHAIN:-auto} $(GOVULNCHECK) -db file://$(VULNDB_DIR) ./...

container-test: ## Build the image and run the compose file end to end in a private Docker daemon, with base images made locally (deploy/container-test.sh; root, docker.io, debootstrap, the compose plugin)
	deploy/container-test.sh

kafka-test: ## Start a real Apache Kafka broker, run the integration tests against it, stop it
	@echo "==> starting Apache Kafka (test/kafka/kafka.sh start)"
	@brokers="$$(test/kafka/kafka.sh start | sed -n 's/^KAFKA_BROKERS=//p')"; \
	trap 'test/kafka/kafka.sh stop' EXIT; \
	echo "==> SHOPSTREAM_TEST_KAFKA=$$brokers go test -race -count=1 -run Integration ./..."; \
	SHOPSTREAM_TEST_KAFKA="$$brokers" $(GO) test -race -count=1 -run Integration ./...

bench: ## Run the reproducible end-to-end benchmark
	$(GO) run ./cmd/shopstream bench

# Spark's side lives in a virtualenv under the repository (ignored by git).
SPARK_VENV ?= .venv-spark
SPARK_BENCH_ARGS ?=

spark-bench: build ## shopstream process beside Spark Structured Streaming on the same topic and PostgreSQL (test/spark; pyspark into .venv-spark; Java 17+)
	@test -x $(SPARK_VENV)/bin/python || $(PYTHON) -m venv $(SPARK_VENV)
	@$(SPARK_VENV)/bin/pip install --quiet --disable-pip-version-check -r test/spark/requirements.txt
	$(SPARK_VENV)/bin/python test/spark/sidebyside.py --bin bin/shopstream $(SPARK_BENCH_ARGS)

fuzz: ## Run each fuzz target for 20 s (FUZZTIME=1m make fuzz for longer)
	@found=0; \
	for file in $$(grep -rlE --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata '^func Fuzz[A-Za-z0-9_]*\(' . | sort); do \
		dir="$$(dirname "$$file")"; \
		for target in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$$file"); do \
			found=$$((found + 1)); \
			echo "==> fuzzing $$target in $$dir for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$dir"; \
		done; \
	done; \
	echo "==> $$found fuzz targets passed"

clean: ## Stop a test Kafka left running; remove bin/, the fetched Kafka and the test cache
	test/kafka/kafka.sh stop
	rm -rf bin test/kafka/lib
	$(GO) clean -testcache
