#!/usr/bin/env bash
# Built and installed the way packagers and DBAs do it. From a copy of the tree's files
# (dpkg-buildpackage writes ../*.deb and debian/ build files; the tree stays as git sees
# it), `dpkg-buildpackage -us -uc -b` builds postgresql-15-chatwoot-sync with Debian's
# pg_buildext, which builds out of tree (VPATH). The package must hold the library and
# every script (the frozen releases, the update scripts, the default version's), the
# same files as an in-tree `make install`, from a library with every object. Installed
# with dpkg -i, its files are the ones the server finds, and PGXS's own `make
# installcheck` passes against a cluster that preloads them. Also `make dist`'s archive.
#
# It installs into the system (run it by hand under /tmp/cws-install.lock, like every
# suite that installs): at the end, also when a check fails, the package is removed and
# the tree's build is installed again (`make install`), so later suites find the tree's
# extension, as they did before. The package build (nocheck: installcheck runs here, on
# the installed files) is most of its time.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/integration.sh"
plan 18

PKG=postgresql-15-chatwoot-sync
DEFAULT=$(sed -nE "s/^default_version *= *'([^']+)'.*/\1/p" chatwoot_sync.control)
PG_CONFIG="${PG_CONFIG:-pg_config}"
LIBDIR=$("$PG_CONFIG" --pkglibdir)
EXTDIR=$("$PG_CONFIG" --sharedir)/extension
COPY="$IT_WORK/src"
tree_state() { git status --porcelain --untracked-files=all 2>&1; }
BEFORE=$(tree_state)

# What the package must hold, from the sources (not from the Makefile, whose DATA this
# checks): the library, the control file, every frozen release, every update script and
# the default version's install script.
mapfile -t SCRIPTS < <({ awk '{print $2}' sql/frozen.sha256
                         git ls-files 'sql/chatwoot_sync--*--*.sql' | xargs -r -n1 basename
                         echo "chatwoot_sync--$DEFAULT.sql"; } | sort -u)
EXPECTED=("usr/lib/postgresql/15/lib/chatwoot_sync.so" "usr/share/postgresql/15/extension/chatwoot_sync.control")
for s in "${SCRIPTS[@]}"; do EXPECTED+=("usr/share/postgresql/15/extension/$s"); done

restore() {  # the system as the suites expect it: no package, the tree's build installed
  if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'ok installed'; then
    dpkg -r "$PKG" >"$IT_WORK/dpkg-r.log" 2>&1
  fi
  make -s install >"$IT_WORK/make-install.log" 2>&1
}
trap 'restore; it_cleanup' EXIT

# --- the in-tree build, the reference ----------------------------------------------
check "the tree builds in place (make)" bash -c "make -j2 >'$IT_WORK/make.log' 2>&1" \
  || tail -n 20 "$IT_WORK/make.log" | sed 's/^/#   /'
make -s install DESTDIR="$IT_WORK/intree" >"$IT_WORK/intree-install.log" 2>&1
(cd "$IT_WORK/intree" && find . -type f | sed 's|^\./||' | sort) > "$IT_WORK/intree.files"

mkdir -p "$IT_WORK/vpath"
make -C "$IT_WORK/vpath" -f "$ROOT/Makefile" VPATH="$ROOT" >"$IT_WORK/vpath-refused.log" 2>&1
check "an out-of-tree build refuses a source tree that holds an in-tree build (its objects would stand in)" \
  grep -q 'holds an in-tree build: run make clean there' "$IT_WORK/vpath-refused.log"

# --- the package ----------------------------------------------------------------------
mkdir -p "$COPY"
git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$COPY" -xf -
check "debian/control is debian/control.in made for debian/pgversions (pg_buildext checkcontrol)" \
  bash -c "cd '$COPY' && pg_buildext checkcontrol >'$IT_WORK/checkcontrol.log' 2>&1" \
  || sed 's/^/#   /' "$IT_WORK/checkcontrol.log" | head -20
started=$SECONDS
(cd "$COPY" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) >"$IT_WORK/dpkg-buildpackage.log" 2>&1
rc=$?
DEB=$(ls "$IT_WORK"/${PKG}_"$DEFAULT"-*_*.deb 2>/dev/null | head -1)
check "dpkg-buildpackage -us -uc -b builds ${PKG}_$DEFAULT (in $((SECONDS - started)) s)" test $rc -eq 0 -a -n "$DEB" \
  || tail -n 30 "$IT_WORK/dpkg-buildpackage.log" | sed 's/^/#   /'

dpkg-deb -c "$DEB" 2>/dev/null | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./||' | grep -v '^usr/share/doc/' | sort > "$IT_WORK/deb.files"
missing=()
for f in "${EXPECTED[@]}"; do grep -qxF "$f" "$IT_WORK/deb.files" || missing+=("$f"); done
check "the package holds the library and every script: ${SCRIPTS[*]} (missing: ${missing[*]:-none})" \
  test ${#missing[@]} -eq 0
check "the package holds the same files as an in-tree make install" \
  cmp -s "$IT_WORK/intree.files" "$IT_WORK/deb.files" \
  || diff -u "$IT_WORK/intree.files" "$IT_WORK/deb.files" | sed 's/^/#   /' | head -20

# pg_buildext's out-of-tree build (build-15, VPATH) against the in-tree one.
git ls-files 'src/core/*.cpp' 'src/pg/*.cpp' | sed 's/\.cpp$/.o/' | sort > "$IT_WORK/objects.expected"
(cd "$COPY/build-15" 2>/dev/null && find . -name '*.o' | sed 's|^\./||' | sort) > "$IT_WORK/objects.vpath"
check "the out-of-tree build compiled an object for every source ($(wc -l <"$IT_WORK/objects.expected") of src/core and src/pg)" \
  cmp -s "$IT_WORK/objects.expected" "$IT_WORK/objects.vpath" \
  || diff -u "$IT_WORK/objects.expected" "$IT_WORK/objects.vpath" | sed 's/^/#   /' | head -20
symbols() { nm -D --defined-only "$1" 2>/dev/null | awk '{print $3}' | sort; }
symbols "$ROOT/chatwoot_sync.so" > "$IT_WORK/symbols.intree"
dpkg-deb -x "$DEB" "$IT_WORK/deb" 2>/dev/null
symbols "$IT_WORK/deb/usr/lib/postgresql/15/lib/chatwoot_sync.so" > "$IT_WORK/symbols.deb"
check "the package's library exports what the in-tree library exports ($(wc -l <"$IT_WORK/symbols.intree") symbols)" \
  bash -c "[ -s '$IT_WORK/symbols.intree' ] && diff -q '$IT_WORK/symbols.intree' '$IT_WORK/symbols.deb' >/dev/null"

# --- installed with dpkg ----------------------------------------------------------
check "dpkg -i installs the package" bash -c "dpkg -i '$DEB' >'$IT_WORK/dpkg-i.log' 2>&1" \
  || tail -n 20 "$IT_WORK/dpkg-i.log" | sed 's/^/#   /'
notours=()
for f in "${EXPECTED[@]}"; do
  owner=$(dpkg -S "/$f" 2>/dev/null | cut -d: -f1)
  [ "$owner" = "$PKG" ] || notours+=("/$f (${owner:-no package})")
done
check "every file the server will use belongs to $PKG (dpkg -S; not: ${notours[*]:-none})" test ${#notours[@]} -eq 0
check "the installed files are the package's bytes (dpkg --verify)" \
  bash -c "[ -z \"\$(dpkg --verify '$PKG' 2>&1)\" ]"

# PGXS's installcheck, run the way pg_buildext runs it: from the out-of-tree build
# directory, against a cluster that preloads the installed library and serves
# pg_regress's database (contrib_regression).
it_cluster installcheck "chatwoot_sync.database_name = 'contrib_regression'" || { not_ok "the cluster starts"; exit 1; }
nregress=$(make -s --no-print-directory --eval='print-regress: ; @echo $(REGRESS)' print-regress | wc -w)
make -C "$COPY/build-15" -f "$COPY/Makefile" VPATH="$COPY" installcheck \
  PGHOST=127.0.0.1 PGPORT="$IT_PORT" PGUSER=postgres >"$IT_WORK/installcheck.log" 2>&1
rc=$?
check "make installcheck (PGXS) passes against the installed package: all $nregress tests of expected/" \
  bash -c "[ $rc -eq 0 ] && [ $nregress -gt 0 ] && grep -qE 'All $nregress tests passed' '$IT_WORK/installcheck.log'" \
  || { tail -n 15 "$IT_WORK/installcheck.log"; head -40 "$COPY/build-15/regression.diffs" 2>/dev/null; } | sed 's/^/#   /'
loaded=$(q contrib_regression "SELECT extversion FROM pg_extension WHERE extname = 'chatwoot_sync'" 2>&1)
check "the tests ran the package's default version ($loaded)" test "$loaded" = "$DEFAULT"
cluster_stop "$IT_DIR"

# --- the system as it was found -------------------------------------------------------
dpkg -r "$PKG" >"$IT_WORK/dpkg-r.log" 2>&1
check "dpkg -r removes the package and its files" \
  bash -c "! dpkg-query -W -f='\${Status}' '$PKG' 2>/dev/null | grep -q 'ok installed' && [ ! -e '$LIBDIR/chatwoot_sync.so' ]"
make -s install >"$IT_WORK/make-install.log" 2>&1
check "make install puts the tree's build back, owned by no package" \
  bash -c "cmp -s '$ROOT/chatwoot_sync.so' '$LIBDIR/chatwoot_sync.so' && [ -f '$EXTDIR/chatwoot_sync--$DEFAULT.sql' ] \
           && ! dpkg -S '$LIBDIR/chatwoot_sync.so' >/dev/null 2>&1"

# --- the release archive ------------------------------------------------------------
make -s dist >"$IT_WORK/dist.log" 2>&1
DIST="build/dist/chatwoot_sync-$DEFAULT.tar.gz"
tar tzf "$DIST" 2>/dev/null | sed "s|^chatwoot_sync-$DEFAULT/||" | grep -v '/$' | sort > "$IT_WORK/dist.files"
want=(chatwoot_sync.control META.json Makefile debian/rules debian/control expected/boundary.out sql/src/install.sql)
for s in "${SCRIPTS[@]}"; do [ "$s" = "chatwoot_sync--$DEFAULT.sql" ] || want+=("sql/$s"); done
absent=()
for f in "${want[@]}"; do grep -qxF "$f" "$IT_WORK/dist.files" || absent+=("$f"); done
check "make dist: $DIST holds the control file, META.json, the scripts and the sources (missing: ${absent[*]:-none})" \
  test ${#absent[@]} -eq 0
built=$(grep -E '\.(o|so|d|deb)$|^build/|^build-[0-9]+/|^results/|^regression\.|chatwoot_sync--'"$DEFAULT"'\.sql$' "$IT_WORK/dist.files" | head -5 | tr '\n' ' ')
check "make dist: no build output in the archive (${built:-none})" \
  bash -c "[ -s '$IT_WORK/dist.files' ] && [ -z '$built' ]"

check "the tree is as git saw it before the test (the package was built from a copy)" \
  test "$(tree_state)" = "$BEFORE"
