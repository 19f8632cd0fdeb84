# chatwoot_sync: PGXS build of the extension, plus the project's two entry points.
#   make && make install    build and install into the server of pg_config
#   make test               everything (deps, build, unit, pg_regress, pgTAP, integration)
#   make test-long          the long failure runs only (test/integration/contacts_long.sh, ~3 min)
#   make demo [KEEP=1]      a scenario to watch against the Chatwoot simulator

EXTENSION  = chatwoot_sync
EXTVERSION = 0.1.0
MODULE_big = chatwoot_sync
DATA       = sql/chatwoot_sync--0.1.0.sql

CORE_SRCS = $(sort $(wildcard src/core/*.cpp src/core/*/*.cpp))
PG_SRCS   = $(sort $(wildcard src/pg/*.cpp src/pg/*/*.cpp))
OBJS      = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# pg_regress suites (sql/ + expected/), run against the private cluster by test/run.sh.
REGRESS      = boundary configuration worker_status contacts_queue
REGRESS_OPTS = --outputdir=$(CURDIR)/build/regress

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(CURDIR)/src -DCHATWOOT_SYNC_VERSION=\"$(EXTVERSION)\"
PG_CXXFLAGS = -MMD -MP -std=c++17 -Wno-missing-field-initializers -Wno-register

SHLIB_LINK  = -lstdc++ -lcurl -ljansson -lphonenumber -lcrypto -ldl

# The server was built with LLVM JIT; we ship no bitcode (C++ gains nothing from it
# and it would need clang at build time).
override with_llvm := no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Header dependencies (PGXS tracks none without --enable-depend).
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d) build

.PHONY: deps test test-long demo core
deps:
	scripts/install-deps.sh

core:
	cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/cmake -j2

test: deps
	test/run.sh

# Only the long failure runs (`make test` includes them); their files are kept only on failure.
test-long: deps install core
	@W=$$(mktemp -d /tmp/chatwoot_sync_long.XXXXXX) && chmod 755 $$W && \
	LONG=1 WORK=$$W bash test/integration/contacts_long.sh; rc=$$?; \
	if [ $$rc -eq 0 ]; then rm -rf $$W; else echo "test files kept in $$W"; fi; exit $$rc

demo: deps
	KEEP=$(KEEP) scripts/demo.sh
