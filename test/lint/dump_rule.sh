#!/usr/bin/env bash
# The dump rule (CONTRIBUTING.md): every table of the extension is either marked for
# pg_dump (pg_extension_config_dump) or says, in the comment just above its CREATE
# TABLE, "Not dumped:" and why. Otherwise a table added later is silently lost by a
# dump and restore. Prints a TAP plan; exits non-zero when the rule is broken.
set -uo pipefail
cd "$(dirname "$0")/../.."

echo "1..2"
failed=0
tables=()
problems=()
for f in sql/src/*/*.sql; do
  while IFS=: read -r line name; do
    tables+=("$name")
    marked=$(grep -c "pg_extension_config_dump('$name'" sql/src/*/*.sql | awk -F: '{s += $2} END {print s + 0}')
    # The comment block right above the CREATE TABLE.
    reason=$(awk -v n="$line" 'NR < n { if ($0 ~ /^--/) block = block "\n" $0; else block = "" } NR == n { print block }' "$f" \
             | grep -c 'Not dumped:')
    if [ "$marked" -eq 0 ] && [ "$reason" -eq 0 ]; then
      problems+=("$f:$line: $name is not marked for pg_dump (pg_extension_config_dump), and no 'Not dumped:' reason is given")
    fi
  done < <(grep -nE '^CREATE TABLE chatwoot\.[a-z_]+' "$f" | sed -E 's/^([0-9]+):CREATE TABLE (chatwoot\.[a-z_]+).*/\1:\2/')
done
if [ ${#tables[@]} -ge 5 ]; then
  echo "ok - the extension's tables are found (${#tables[@]})"
else
  echo "not ok - the extension's tables are found (${#tables[@]})"; failed=1
fi
if [ ${#problems[@]} -eq 0 ]; then
  echo "ok - every table is dumped or says why not"
else
  echo "not ok - every table is dumped or says why not"
  printf '#   %s\n' "${problems[@]}"
  failed=1
fi
exit $failed
