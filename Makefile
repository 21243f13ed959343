# Makefile for raft_ext, built with PGXS.
#
#   make && make install          build and install (as root is fine)
#   make installcheck             pg_regress tests on a temporary instance that
#                                 preloads raft_ext (test/regress.conf), then
#                                 the TAP tests in test/t/ (run as a non-root
#                                 user: initdb refuses root)
#   make check-engine             engine unit tests + simulator (test/raft)
#   make check-engine-sanitize    the same under ASan + UBSan
#   make test                     everything CI runs (scripts/run-tests.sh)
#   make demo                     the local three-node demo (scripts/demo.sh)

EXTENSION = raft_ext
EXTVERSION = 1.0

MODULE_big = $(EXTENSION)
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/raft/*.c)))

# The install script of this version plus any upgrade scripts.
DATA = sql/$(EXTENSION)--$(EXTVERSION).sql \
	$(filter-out sql/$(EXTENSION)--$(EXTVERSION).sql,$(wildcard sql/$(EXTENSION)--*.sql))

# Every other file in sql/ is a pg_regress test.
TESTS = $(filter-out $(wildcard sql/$(EXTENSION)--*.sql),$(sort $(wildcard sql/*.sql)))
REGRESS = $(patsubst sql/%.sql,%,$(TESTS))
# A temporary instance so that the library can be preloaded; the tests run in
# a database where the extension is already created.
REGRESS_OPTS = --temp-config=test/regress.conf --temp-instance=tmp_check_regress \
	--load-extension=$(EXTENSION)

# TAP tests (PostgreSQL::Test::Cluster); enabled once test/t/ holds some.
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))
ifneq ($(PROVE_TESTS),)
TAP_TESTS = 1
endif

PG_CONFIG ?= pg_config

# The worker's transport is libpq; settings parse conninfo with it too.
SHLIB_LINK = -L$(shell $(PG_CONFIG) --libdir) -lpq
PG_CPPFLAGS = -I$(libpq_srcdir) -I$(shell $(PG_CONFIG) --includedir) -Isrc
# PostgreSQL headers trip -Wunused-parameter and -Wmissing-field-initializers.
PG_CFLAGS = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers
# PostgreSQL was configured with gcc: clang ignores its format(gnu_printf)
# attributes and does not know some of its flags.
ifneq (,$(findstring clang,$(CC)))
PG_CFLAGS += -Wno-ignored-attributes -Wno-ignored-optimization-argument \
	-Wno-unknown-warning-option
endif

EXTRA_CLEAN = tmp_check_regress

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: check-engine check-engine-sanitize

check-engine:
	$(MAKE) -C test/raft check

check-engine-sanitize:
	$(MAKE) -C test/raft check-sanitize

# PGXS tracks no header dependencies: rebuild everything when one changes.
$(OBJS): $(wildcard src/*.h src/raft/*.h)

# The README's two quick-start commands.
.PHONY: test demo

# The whole suite, as CI runs it (drops to the postgres user when root).
test:
	scripts/run-tests.sh

# Build, install and run the local three-node demo cluster.
demo:
	scripts/demo.sh
