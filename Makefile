# chatwoot_sync: PGXS build of the extension, plus the project's two entry points.
#   make && make install    build and install into the server of pg_config
#   make test               everything (deps, build, unit, pg_regress, pgTAP, integration)
#   make test-long          the long failure runs only (test/integration/contacts_long.sh, ~3 min)
#   make demo [KEEP=1]      a scenario to watch against the Chatwoot simulator

EXTENSION  = chatwoot_sync
MODULE_big = chatwoot_sync
# The version, written only here: the control file, the install script's name and the
# library's schema check (CHATWOOT_SYNC_VERSION) come from it.
EXTVERSION = 0.2.0

# The install script of EXTVERSION is joined from the feature sources below, in this
# order (tables before the functions, triggers and views that use them). Released
# versions are frozen: sql/chatwoot_sync--V.sql never changes, and every schema change
# since ships in sql/chatwoot_sync--A--B.sql (docs/ARCHITECTURE.md, "An upgrade step").
INSTALL_SQL = $(addprefix sql/src/, install.sql access/tables.sql \
    connections/tables.sql contacts/tables.sql outbox/tables.sql \
    connections/functions.sql worker/functions.sql outbox/functions.sql contacts/functions.sql \
    outbox/views.sql access/functions.sql boundary/functions.sql)
DATA       = $(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql, $(wildcard sql/$(EXTENSION)--*.sql))
DATA_built = build/sql/$(EXTENSION)--$(EXTVERSION).sql

CORE_SRCS = $(sort $(wildcard src/core/*.cpp src/core/*/*.cpp))
PG_SRCS   = $(sort $(wildcard src/pg/*.cpp src/pg/*/*.cpp))
OBJS      = $(CORE_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

# pg_regress goldens: every test/regress/sql/*.sql, sorted, so the schedule cannot drift
# from the files (test/run.sh fails an input without expected output and vice versa).
REGRESS      = $(sort $(basename $(notdir $(wildcard test/regress/sql/*.sql))))
REGRESS_OPTS = --inputdir=test/regress --outputdir=$(CURDIR)/build/regress

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(CURDIR)/src -DCHATWOOT_SYNC_VERSION=\"$(EXTVERSION)\"
PG_CXXFLAGS = -MMD -MP -std=c++17 -Wno-missing-field-initializers -Wno-register

SHLIB_LINK  = -lstdc++ -lcurl -ljansson -lphonenumber -lcrypto -ldl

# The server was built with LLVM JIT; we ship no bitcode (C++ gains nothing from it
# and it would need clang at build time).
override with_llvm := no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

build/sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_SQL) Makefile
	@mkdir -p $(@D)
	{ echo '-- $(EXTENSION) $(EXTVERSION): joined by the build from sql/src (edit those files, not this one)'; \
	  cat $(INSTALL_SQL); } > $@

$(EXTENSION).control: $(EXTENSION).control.in Makefile
	sed 's/@EXTVERSION@/$(EXTVERSION)/' $< > $@

# Header dependencies (PGXS tracks none without --enable-depend).
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d) build $(EXTENSION).control

.PHONY: deps test test-long demo core
deps:
	scripts/install-deps.sh

core:
	cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build/cmake -j2

test: deps
	test/run.sh

# Only the long failure runs (`make test` skips them unless LONG=1); files kept only on failure.
test-long: deps install core
	@W=$$(mktemp -d /tmp/chatwoot_sync_long.XXXXXX) && chmod 755 $$W && \
	LONG=1 WORK=$$W bash test/integration/contacts_long.sh; rc=$$?; \
	if [ $$rc -eq 0 ]; then rm -rf $$W; else echo "test files kept in $$W"; fi; exit $$rc

demo: deps
	KEEP=$(KEEP) scripts/demo.sh
