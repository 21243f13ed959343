# raft_ext: Raft leader election and fencing for PostgreSQL primaries.
#
#   make && make install        build and install
#   make installcheck           pg_regress (test/sql), then the TAP tests
#                               (test/t), as a non-root user
#   make check-engine           engine unit tests + simulator (test/raft)
#   make test                   everything CI runs (scripts/run-tests.sh)
#   make demo                   the local three-node demo (scripts/demo.sh)

EXTENSION = raft_ext
EXTVERSION = 1.3

MODULE_big = $(EXTENSION)
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/raft/*.c)))
DATA = $(wildcard sql/$(EXTENSION)--*.sql)
# The rejoin helper (raft_ext.auto_rejoin), beside pg_ctl and pg_rewind.
SCRIPTS = scripts/raft_ext_rejoin

TESTS = $(sort $(wildcard test/sql/*.sql))
REGRESS = $(patsubst test/sql/%.sql,%,$(TESTS))
# A temporary instance, so that the library is preloaded (test/regress.conf).
REGRESS_OPTS = --inputdir=test --temp-config=test/regress.conf \
	--temp-instance=tmp_check_regress --load-extension=$(EXTENSION)

TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

PG_CONFIG ?= pg_config

# The transport is libpq, as in contrib/dblink.
PG_CPPFLAGS = -I$(libpq_srcdir) -Isrc
# The HTTP endpoint (src/http_*.c) is libmicrohttpd, in its threadless mode.
SHLIB_LINK_INTERNAL = $(libpq)
SHLIB_LINK = -lmicrohttpd
# PostgreSQL's own headers trip these two; clang ignores gcc-only flags.
PG_CFLAGS = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers
ifneq (,$(findstring clang,$(CC)))
PG_CFLAGS += -Wno-ignored-attributes -Wno-ignored-optimization-argument \
	-Wno-unknown-warning-option
endif

EXTRA_CLEAN = tmp_check_regress

# One clear line, before any compiler runs, for a PostgreSQL raft_ext does
# not support or none at all (src/pg_compat.h holds the differences).
SUPPORTED_PG_MAJORS = 15 17 18
PG_MAJOR := $(shell $(PG_CONFIG) --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
ifeq (,$(PG_MAJOR))
$(error no PostgreSQL found: "$(PG_CONFIG) --version" does not run; raft_ext supports PostgreSQL $(SUPPORTED_PG_MAJORS): set PG_CONFIG=/usr/lib/postgresql/VERSION/bin/pg_config)
endif
ifeq (,$(filter $(SUPPORTED_PG_MAJORS),$(PG_MAJOR)))
$(error PostgreSQL $(PG_MAJOR) found ($(PG_CONFIG)); raft_ext supports PostgreSQL $(SUPPORTED_PG_MAJORS))
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The TAP helpers, and each file's time in the output.  After the include,
# which empties PROVE_FLAGS; override
# keeps them with "make installcheck PROVE_FLAGS=--verbose".
override PROVE_FLAGS += -I test/perl --timer

# PGXS tracks no header dependencies: rebuild everything when one changes.
$(OBJS): $(wildcard src/*.h src/raft/*.h)

.PHONY: check-engine check-engine-sanitize test demo
check-engine:
	$(MAKE) -C test/raft check
check-engine-sanitize:
	$(MAKE) -C test/raft check-sanitize
test:
	scripts/run-tests.sh
demo:
	scripts/demo.sh

# raftctl (tools/raftctl), a PGXS program of its own: built and installed
# into PostgreSQL's bindir with the extension.
.PHONY: raftctl install-raftctl clean-raftctl
all: raftctl
raftctl:
	$(MAKE) -C tools/raftctl PG_CONFIG=$(PG_CONFIG)
install: install-raftctl
install-raftctl: raftctl
	$(MAKE) -C tools/raftctl install PG_CONFIG=$(PG_CONFIG)
clean: clean-raftctl
clean-raftctl:
	$(MAKE) -C tools/raftctl clean PG_CONFIG=$(PG_CONFIG)
