#!/usr/bin/env bash
# The dump rule (CONTRIBUTING.md): every table of the extension is either marked for
# pg_dump (pg_extension_config_dump) or says, in the comment just above its CREATE
# TABLE, "Not dumped:" and why. Otherwise a table added later is silently lost by a
# dump and restore. A dumped table with an identity column has its sequence marked too:
# restored at 1, the sequence would hand out ids the restored rows hold (a duplicate key,
# or, for the change log, new changes ordered before old ones). Prints a TAP plan; exits
# non-zero when the rule is broken.
set -uo pipefail
cd "$(dirname "$0")/../.."

echo "1..3"
failed=0
tables=()
problems=()
sequences=()
for f in sql/src/*/*.sql; do
  while IFS=: read -r line name; do
    tables+=("$name")
    marked=$(grep -c "pg_extension_config_dump('$name'" sql/src/*/*.sql | awk -F: '{s += $2} END {print s + 0}')
    # The comment block right above the CREATE TABLE.
    reason=$(awk -v n="$line" 'NR < n { if ($0 ~ /^--/) block = block "\n" $0; else block = "" } NR == n { print block }' "$f" \
             | grep -c 'Not dumped:')
    # The table's definition: from its CREATE TABLE to the closing ");".
    identity=$(awk -v n="$line" 'NR >= n { print; if ($0 ~ /^\);/) exit }' "$f" | grep -c 'AS IDENTITY')
    seq_marked=$(grep -c "pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('$name'" sql/src/*/*.sql | awk -F: '{s += $2} END {print s + 0}')
    if [ "$marked" -gt 0 ] && [ "$identity" -gt 0 ] && [ "$seq_marked" -eq 0 ]; then
      sequences+=("$f:$line: $name is dumped but its identity sequence is not (pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('$name', 'id')::regclass, ''))")
    fi
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
if [ ${#sequences[@]} -eq 0 ]; then
  echo "ok - every dumped table's identity sequence is dumped"
else
  echo "not ok - every dumped table's identity sequence is dumped"
  printf '#   %s\n' "${sequences[@]}"
  failed=1
fi
exit $failed
