#!/usr/bin/env bash
# The version is written once, as default_version in chatwoot_sync.control: the Makefile
# reads it (EXTVERSION: the install script's name, CHATWOOT_SYNC_VERSION), and META.json,
# which PGXN needs written out, must say the same. Prints a TAP plan; exits non-zero when
# a rule is broken. debian/changelog, which dpkg needs written out too, must package it.
set -uo pipefail
cd "$(dirname "$0")/../.."

echo "1..6"
failed=0
check() {  # check DESCRIPTION CONDITION...
  local what=$1; shift
  if "$@"; then echo "ok - $what"; else echo "not ok - $what"; failed=1; fi
}

control=$(sed -nE "s/^default_version *= *'([^']+)'.*/\1/p" chatwoot_sync.control 2>/dev/null)
check "chatwoot_sync.control is committed and names one default_version ($control)" \
  bash -c "git ls-files --error-unmatch chatwoot_sync.control >/dev/null 2>&1 && [[ '$control' =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]"

# Asked of make itself: what the build uses, not what a grep of the Makefile guesses.
made=$(make -s --no-print-directory --eval='print-extversion: ; @echo $(EXTVERSION)' print-extversion 2>&1)
check "the Makefile's EXTVERSION is default_version ($made)" test "$made" = "$control"
check "the Makefile writes no version of its own" \
  bash -c "! grep -nE '^ *EXTVERSION *:?= *[0-9]' Makefile"

meta=$(jq -r '[.version, (.provides | to_entries[] | .value.version)] | unique | join(" ")' META.json 2>/dev/null)
check "META.json's version and every provides' version are default_version ($meta)" \
  bash -c "[ -n '$control' ] && [ '$meta' = '$control' ] && [ \"\$(jq -r '.provides.chatwoot_sync.version' META.json)\" = '$control' ]"
meta_ok() {
  jq -e '."meta-spec".version == "1.0.0" and .name == "chatwoot_sync"
         and (.abstract | type == "string") and (.maintainer != null) and (.license != null)
         and ([.provides[] | (.file | type == "string") and (.version | type == "string")] | all)' META.json >/dev/null 2>&1
}
check "META.json follows PGXN's meta-spec 1.0.0 (its mandatory fields)" meta_ok
deb=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
check "debian/changelog packages default_version ($deb)" bash -c "[ -n '$control' ] && [ '${deb%-*}' = '$control' ]"
exit $failed
