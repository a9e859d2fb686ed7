# Makefile for walmon, built with PGXS.
#
#   make && make install          build and install into $(PG_CONFIG)'s server
#   make installcheck             pg_regress + isolation + TAP, each on its own
#                                 temporary, preloaded server (test/walmon.conf)
#   make bench                    benchmark (see bench/README.md)
#   make soak                     a bounded soak (minutes; not part of CI)
#   make dist                     the PGXN release archive walmon-<version>.zip

MODULE_big = walmon
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
PGFILEDESC = "walmon - in-server WAL replication monitor"

EXTENSION = walmon
DATA = $(wildcard walmon--*.sql)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-config=$(srcdir)/test/walmon.conf --temp-instance=./tmp_check_regress
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --temp-config=$(srcdir)/test/walmon.conf --temp-instance=./tmp_check_iso
TAP_TESTS = 1

# remote servers are polled over libpq, as contrib/dblink does
PG_CPPFLAGS = -I$(libpq_srcdir)
SHLIB_LINK_INTERNAL = $(libpq)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Every source includes these; PGXS tracks no header dependencies unless the
# server was configured with --enable-depend.
$(OBJS) $(OBJS:.o=.bc): src/walmon.h src/compat.h

# The three suites one at a time, so a runner can report each of them even
# when an earlier one fails (scripts/test runs them all).
.PHONY: check-regress check-isolation check-tap bench
check-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)
check-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)
check-tap:
	$(prove_installcheck)

bench:
	bash bench/run.sh

# A bounded soak, minutes long, not part of CI (SOAK_SECONDS, SOAK_CLIENTS).
.PHONY: soak
soak:
	bash test/soak.sh

# Static analysis; both must print nothing.  clang-tidy's checks are in
# .clang-tidy.
.PHONY: lint
lint:
	cppcheck --enable=warning,performance,portability --error-exitcode=1 \
		--quiet --inline-suppr -I src --suppress=missingIncludeSystem src/
	clang-tidy --quiet src/*.c -- -I$(shell $(PG_CONFIG) --includedir-server) \
		-Isrc -D_GNU_SOURCE 2>&1 | { grep -v 'warnings generated' || true; } | \
		{ ! grep .; }

# The release archive PGXN takes: the committed tree (HEAD, not the work
# tree) as a zip under walmon-<version>/, the version read from META.json.
# DISTDIR=dir writes it elsewhere.
DISTVERSION = $(shell perl -MJSON::PP -0777 -ne 'print decode_json($$_)->{version}' $(srcdir)/META.json)
DISTDIR = .
.PHONY: dist
dist:
	git -C $(srcdir) archive --format zip --prefix=walmon-$(DISTVERSION)/ \
		-o $(abspath $(DISTDIR))/walmon-$(DISTVERSION).zip HEAD
	@echo $(DISTDIR)/walmon-$(DISTVERSION).zip

clean: clean-walmon
clean-walmon:
	rm -rf tmp_check_regress tmp_check_iso
