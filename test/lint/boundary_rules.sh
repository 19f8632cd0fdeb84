#!/usr/bin/env bash
# The C++/PostgreSQL boundary's rules that grep can check (docs/ARCHITECTURE.md, "The
# error boundary"). Prints a TAP plan and one ok / not ok line per rule; exits non-zero
# when a rule is broken. Run from anywhere: test/lint/boundary_rules.sh
#
# Every file under src/pg says, in its first 20 lines, how it is written:
#   // boundary: postgres-style   may ereport (longjmp) freely: triggers, hooks, the
#                                 bgworker mains. So it owns no C++ object with a
#                                 destructor: no try/catch/throw, no std:: owning type.
#   // boundary: c++-style        owns C++ objects; every PostgreSQL call goes through
#                                 pg_call, and SQL entry points through cpp_entry.
set -uo pipefail
cd "$(dirname "$0")/../.."

echo "1..6"
failed=0
check() {  # check DESCRIPTION PROBLEMS...: ok when no problem was given
    local what=$1; shift
    if [ $# -eq 0 ]; then
        echo "ok - $what"
    else
        echo "not ok - $what"
        printf '#   %s\n' "$@"
        failed=1
    fi
}
# Source without // comments (a comment may say "throw" or name a header).
code() { sed -E 's#//.*$##' "$1"; }

mapfile -t pg_files < <(find src/pg -name '*.cpp' -o -name '*.hpp' | sort)
mapfile -t core_files < <(find src/core -name '*.cpp' -o -name '*.hpp' | sort)

# 1. src/core is pure C++: no PostgreSQL header, nothing of src/pg.
problems=()
pg_headers='postgres\.h|postgres_ext\.h|fmgr\.h|funcapi\.h|miscadmin\.h|pgstat\.h|(access|catalog|commands|executor|nodes|parser|postmaster|replication|storage|tcop|utils|lib|mb)/[a-z_]+\.h|pg/'
for f in "${core_files[@]}"; do
    while IFS= read -r line; do problems+=("$f: $line"); done < <(code "$f" | grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pg_headers)")
done
check "src/core includes no PostgreSQL header" "${problems[@]}"

# 2. Every file under src/pg is marked.
problems=()
for f in "${pg_files[@]}"; do
    n=$(head -n 20 "$f" | grep -cE '^// boundary: (postgres|c\+\+)-style$')
    [ "$n" -eq 1 ] || problems+=("$f: needs one '// boundary: postgres-style' or '// boundary: c++-style' line near the top")
done
check "every file under src/pg is marked postgres-style or c++-style" "${problems[@]}"

# 3. A postgres-style file owns no C++ object a longjmp could skip.
problems=()
owning='std::(string|vector|unique_ptr|shared_ptr|map|multimap|set|unordered_map|unordered_set|list|deque|function|optional|ostringstream|stringstream)\b'
for f in "${pg_files[@]}"; do
    head -n 20 "$f" | grep -qE '^// boundary: postgres-style$' || continue
    while IFS= read -r line; do problems+=("$f: $line"); done < <(code "$f" | grep -nE '\b(try|catch|throw)\b|'"$owning")
done
check "postgres-style files have no try/catch/throw and no std:: owning type" "${problems[@]}"

# 4. Every ERROR says its SQLSTATE: elog(ERROR) cannot, each ereport(ERROR) has an errcode.
problems=()
for f in "${pg_files[@]}"; do
    while IFS= read -r line; do problems+=("$f: $line (use ereport with errcode)"); done < <(code "$f" | grep -nE '\belog\(ERROR\b')
    # Each ereport(ERROR ...) statement, up to its closing parenthesis.
    while IFS= read -r line; do problems+=("$f: $line"); done < <(code "$f" | awk '
        !inside && /ereport\(ERROR/ { inside = 1; start = NR; text = ""; depth = 0; s = substr($0, index($0, "ereport(ERROR")) ; }
        inside {
            if (start != NR) s = $0
            text = text s
            for (i = 1; i <= length(s); i++) { c = substr(s, i, 1); if (c == "(") depth++; else if (c == ")") depth-- ; if (depth == 0 && i > 1) break }
            if (depth <= 0) { if (text !~ /errcode\(/) print start ": ereport(ERROR) without errcode"; inside = 0 }
        }')
done
check "every ereport(ERROR) has an errcode and no elog(ERROR) is left" "${problems[@]}"

# 5. One PG_TRY in the whole extension: catch_pg_error, under pg_call.
problems=()
hits=$(for f in "${pg_files[@]}"; do code "$f" | grep -nE '\bPG_TRY\(' | sed "s#^#$f:#"; done)
count=$(grep -c . <<<"$hits")
if [ "$count" -ne 1 ] || ! grep -q '^src/pg/boundary/boundary.cpp:' <<<"$hits"; then
    problems+=("PG_TRY must appear once, in src/pg/boundary/boundary.cpp (catch_pg_error); found $count:")
    while IFS= read -r line; do [ -n "$line" ] && problems+=("  $line"); done <<<"$hits"
fi
check "PG_TRY appears once, in catch_pg_error (pg_call)" "${problems[@]}"

# 6. No other sigsetjmp than the worker's error recovery point, and cpp_entry puts
#    PostgreSQL's exception and error-context stacks back after a C++ exception.
problems=()
while IFS= read -r line; do
    [ -n "$line" ] && problems+=("$line")
done < <(for f in "${pg_files[@]}"; do [ "$f" = src/pg/worker/worker.cpp ] && continue; code "$f" | grep -nE '\bsigsetjmp\(' | sed "s#^#$f:#"; done)
# Comments stripped: a restore commented out is no restore.
entry=$(code src/pg/boundary/boundary.hpp | sed -E 's#/\*.*\*/##g' | sed -n '/^Datum cpp_entry(/,/^}/p')
grep -qE '(^|[^_[:alnum:]])PG_exception_stack = entry_exception_stack;' <<<"$entry" || problems+=("cpp_entry does not restore PG_exception_stack")
grep -qE '(^|[^_[:alnum:]])error_context_stack = entry_context_stack;' <<<"$entry" || problems+=("cpp_entry does not restore error_context_stack")
check "sigsetjmp only in the worker's recovery; cpp_entry restores the PostgreSQL stacks" "${problems[@]}"

exit $failed
