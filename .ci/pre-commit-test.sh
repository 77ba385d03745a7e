#!/usr/bin/env bash
# Tries this repository's .pre-commit-hooks.yaml with the real pre-commit tool (PyPI), as a user
# would: `pre-commit try-repo <this repository> HOOK --all-files` inside a git repository that
# holds a copy of specs/acme. Every hook must pass on the example and fail on a broken copy.
# Usage: .ci/pre-commit-test.sh VENV BINDIR   (BINDIR holds the `trestle` to test)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="$(cd "$1" && pwd)"
bindir="$(cd "$2" && pwd)"
if [ ! -x "$venv/bin/pre-commit" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pre-commit==4.7.0"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export PATH="$bindir:$PATH" PRE_COMMIT_HOME="$work/cache"
export GIT_AUTHOR_NAME=ci GIT_AUTHOR_EMAIL=ci@example.invalid
export GIT_COMMITTER_NAME=ci GIT_COMMITTER_EMAIL=ci@example.invalid
specs="$work/specs"
cp -R "$repo/specs/acme" "$specs"
trestle build "$specs" --out "$specs/generated" 2>/dev/null
git -C "$specs" init --quiet
git -C "$specs" add -A
git -C "$specs" commit --quiet -m "acme specs and their generated artifacts"

# try EXPECTED HOOK [GREP]: run one hook on every file; check its outcome (and its output).
try() {
  local want="$1" hook="$2" pattern="${3:-}" log="$work/$2.log" rc=0
  (cd "$specs" && "$venv/bin/pre-commit" try-repo "$repo" "$hook" --all-files --color never) \
    >"$log" 2>&1 || rc=$?
  if { [ "$want" = pass ] && [ "$rc" -ne 0 ]; } || { [ "$want" = fail ] && [ "$rc" -eq 0 ]; } \
    || { [ -n "$pattern" ] && ! grep -q -- "$pattern" "$log"; }; then
    echo "pre-commit try-repo $hook: expected to $want${pattern:+ showing '$pattern'} (exit $rc):"
    cat "$log"
    exit 1
  fi
  local done=passed
  [ "$want" = fail ] && done=failed
  echo "pre-commit try-repo $hook: $done as expected"
}

try pass trestle-validate
try pass trestle-fmt
try pass trestle-check

# A broken spec: a quoted integer (T203).
cat >"$specs/apps/broken.kdl" <<'KDL'
workload broken {
    owner payments
    system checkout
    replicas "2"
    container main { image "ghcr.io/acme/broken:1.0.0" }
}
KDL
git -C "$specs" add -A
try fail trestle-validate T203
git -C "$specs" rm --quiet -f apps/broken.kdl

# A badly formatted file.
printf 'team  qa{\ntitle "QA"\n}\n' >"$specs/teams/qa.kdl"
git -C "$specs" add -A
try fail trestle-fmt teams/qa.kdl
git -C "$specs" rm --quiet -f teams/qa.kdl

# Generated artifacts edited by hand: drift.
echo "# edited by hand" >>"$specs/generated/prod/terraform/main.tf"
git -C "$specs" add -A
try fail trestle-check "out of date"
