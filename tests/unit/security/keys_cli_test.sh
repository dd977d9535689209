#!/bin/bash
# `coedge keys` from the command line: init (with --scenario), add, revoke, list, and the
# refusals with their exit codes (2 bad input) and messages.
#   keys_cli_test.sh COEDGE SOURCE_DIR
set -u
COEDGE=$1
SRC=$2
WORK=$(mktemp -d /tmp/coedge-keys-cli-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0

# expect CODE PATTERN -- COMMAND...: runs it, checks the exit code and that the output
# (stdout and stderr) matches the extended regex PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -Eq -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $rc (want $code), output:"
    echo "$out" | sed 's/^/    /'
    echo "    (want /$pattern/)"
    failures=$((failures + 1))
  else
    echo "ok: $*"
  fi
}

K=$WORK/ks
expect 0 "issued camera" -- "$COEDGE" keys init "$K" --scenario "$SRC/examples/lamppost.yaml" --days 30 --images encrypt
expect 0 "^master +- +CN=/coedge/master +20[0-9-]+T[0-9:]+Z +no" -- "$COEDGE" keys list "$K"
# Every node of the scenario has an identity.
nodes=$(grep -c "^node " <("$COEDGE" keys list "$K"))
[ "$nodes" -ge 2 ] || { echo "FAIL: only $nodes node identities"; failures=$((failures + 1)); }
expect 0 "ENCRYPT" -- grep -m1 -A0 "<data_protection_kind>ENCRYPT" "$K/enclaves/governance.xml"
expect 0 "issued node extra1" -- "$COEDGE" keys add "$K" node extra1
expect 2 "exists .*revoke it first" -- "$COEDGE" keys add "$K" node extra1
expect 2 "bad node name 'a\.b'" -- "$COEDGE" keys add "$K" node a.b
expect 2 "unknown role 'robot'" -- "$COEDGE" keys add "$K" robot x
expect 2 "needs exactly one name" -- "$COEDGE" keys add "$K" node
expect 2 "master has no name" -- "$COEDGE" keys add "$K" master m1
expect 2 "one identity at a time" -- "$COEDGE" keys add "$K" node n7 n8
expect 2 "--days applies to init only" -- "$COEDGE" keys add "$K" node extra2 --days 3
expect 2 "not empty" -- "$COEDGE" keys init "$K"
expect 2 "expected 'init', 'add', 'revoke' or 'list', got 'rotate'" -- "$COEDGE" keys rotate "$K"
expect 0 "revoked node extra1.*restart" -- "$COEDGE" keys revoke "$K" node extra1
expect 0 "^node +extra1 +CN=/coedge/node/extra1 .* yes$" -- "$COEDGE" keys list "$K"
expect 2 "already revoked" -- "$COEDGE" keys revoke "$K" node extra1
expect 0 "issued node extra1" -- "$COEDGE" keys add "$K" node extra1
expect 0 "^node +extra1 .* no$" -- "$COEDGE" keys list "$K"
expect 2 "not a CoEdge keystore" -- "$COEDGE" keys list "$WORK/nothing"
# A scenario whose node name cannot be an identity: refused before anything is created.
sed 's/\bn2\b/edge.2/g' "$SRC/examples/lamppost.yaml" >"$WORK/dotted.yaml"
ln -s "$SRC/examples/profiles" "$WORK/profiles"  # the scenario's profiles, relative to it
grep -q "name: edge.2" "$WORK/dotted.yaml" || { echo "FAIL: the dotted scenario was not made"; failures=$((failures + 1)); }
expect 2 "scenario .*dotted.yaml: bad node name 'edge\.2'.*nothing was created" -- "$COEDGE" keys init "$WORK/half" --scenario "$WORK/dotted.yaml"
[ ! -e "$WORK/half" ] || { echo "FAIL: a refused init left $WORK/half"; failures=$((failures + 1)); }
expect 0 "coedge keys init DIR" -- "$COEDGE" keys --help
[ "$(stat -c %a "$K/private/ca.key.pem")" = 600 ] || { echo "FAIL: ca.key.pem mode"; failures=$((failures + 1)); }
[ "$(stat -c %a "$K/enclaves/coedge/node/extra1/key.pem")" = 600 ] || { echo "FAIL: key.pem mode"; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all passed"
