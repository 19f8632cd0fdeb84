# chatwoot_sync: PGXS build of the extension, plus the project's two entry points.
#   make && make install    build and install into the server of pg_config
#   make test               everything (deps, build, unit, pg_regress, pgTAP, integration)
#   make test-long          the long failure runs only (test/integration/contacts_long.sh, ~3 min)
#   make demo [KEEP=1]      a scenario to watch against the Chatwoot simulator

EXTENSION  = chatwoot_sync
MODULE_big = chatwoot_sync

# The source tree: "." in tree, the VPATH of an out-of-tree build (`make -f <src>/Makefile
# VPATH=<src>`, as Debian's pg_buildext runs it). Every source is named through it, and
# everything built lands in the current directory.
top := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

# The version is written once, as default_version in the committed control file: the
# install script's name and the library's schema check (CHATWOOT_SYNC_VERSION) come
# from it, and META.json must say the same (test/lint/versions.sh).
EXTVERSION := $(shell sed -nE "s/^default_version *= *'([^']+)'.*/\1/p" $(top)/$(EXTENSION).control)
ifeq ($(EXTVERSION),)
$(error no default_version in $(top)/$(EXTENSION).control)
endif

# The install script of EXTVERSION is joined from the feature sources below, in this
# order (tables before the functions, triggers and views that use them). Released
# versions are frozen: sql/chatwoot_sync--V.sql never changes, and every schema change
# since ships in sql/chatwoot_sync--A--B.sql (docs/ARCHITECTURE.md, "An upgrade step").
INSTALL_SQL = $(addprefix $(top)/sql/src/, install.sql access/tables.sql \
    connections/tables.sql contacts/tables.sql outbox/tables.sql \
    connections/functions.sql worker/functions.sql outbox/functions.sql contacts/functions.sql \
    outbox/views.sql access/functions.sql boundary/functions.sql)
# DATA is relative to the source tree (PGXS installs $(srcdir)/$(DATA)); DATA_built to here.
DATA       = $(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql, \
               $(patsubst $(top)/%,%,$(wildcard $(top)/sql/$(EXTENSION)--*.sql)))
DATA_built = build/sql/$(EXTENSION)--$(EXTVERSION).sql

# Objects are built here (src/... below the current directory), their sources found in $(top).
CORE_SRCS = $(sort $(wildcard $(top)/src/core/*.cpp $(top)/src/core/*/*.cpp))
PG_SRCS   = $(sort $(wildcard $(top)/src/pg/*.cpp $(top)/src/pg/*/*.cpp))
OBJS      = $(patsubst $(top)/%.cpp,%.o,$(CORE_SRCS) $(PG_SRCS))

# pg_regress, PGXS's own way: `make installcheck` runs sql/NAME.sql against an installed
# server and compares with expected/NAME.out (pg_regress --inputdir=$(srcdir), so an
# out-of-tree build finds them too). The inputs share sql/ with the extension's scripts:
# every sql/*.sql that is not a $(EXTENSION)--*.sql script is a test, sorted, so the
# schedule cannot drift from the files (test/run.sh fails an input without expected
# output and vice versa). Results and regression.diffs land in the current directory.
REGRESS = $(sort $(basename $(notdir $(filter-out $(top)/sql/$(EXTENSION)--%, $(wildcard $(top)/sql/*.sql)))))

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(top)/src -DCHATWOOT_SYNC_VERSION=\"$(EXTVERSION)\"
PG_CXXFLAGS = -MMD -MP -std=c++17 -Wno-missing-field-initializers -Wno-register

SHLIB_LINK  = -lstdc++ -lcurl -ljansson -lphonenumber -lcrypto -ldl

# The server was built with LLVM JIT; we ship no bitcode (C++ gains nothing from it
# and it would need clang at build time).
override with_llvm := no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(INSTALL_SQL) $(top)/Makefile $(top)/$(EXTENSION).control
	@mkdir -p $(@D)
	{ echo '-- $(EXTENSION) $(EXTVERSION): joined by the build from sql/src (edit those files, not this one)'; \
	  cat $(INSTALL_SQL); } > $@

# Out of tree, make would take an in-tree build's objects and library, found through VPATH,
# for this build's and build nothing: refuse, as PostgreSQL's own VPATH build does.
ifneq ($(top),.)
ifneq ($(filter-out clean distclean,$(or $(MAKECMDGOALS),all)),)
ifneq ($(wildcard $(top)/$(MODULE_big)$(DLSUFFIX) $(addprefix $(top)/,$(OBJS))),)
$(error $(top) holds an in-tree build: run make clean there before building out of tree)
endif
endif
endif

# Out of tree the objects' directories do not exist yet (order-only: never a reason to rebuild).
$(OBJS): | objdirs
.PHONY: objdirs
objdirs:
	@mkdir -p $(sort $(dir $(OBJS)))

# Header dependencies (PGXS tracks none without --enable-depend).
-include $(OBJS:.o=.d)
EXTRA_CLEAN = $(OBJS:.o=.d) build

# A release archive for PGXN (META.json): the committed tree at HEAD, nothing built.
DIST = build/dist/$(EXTENSION)-$(EXTVERSION).tar.gz
.PHONY: dist
dist:
	@mkdir -p $(dir $(DIST))
	git -C $(top) archive --format=tar.gz --prefix=$(EXTENSION)-$(EXTVERSION)/ -o $(abspath $(DIST)) HEAD
	@echo "wrote $(DIST) (the tree at HEAD: uncommitted changes are not in it)"

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
