#!/usr/bin/env bash
# Run one bounded spin check of a weft Promela model.
#
#   models/run.sh [--expect-error[=REGEX]] MODEL.pml [-DNAME=VALUE ...]
#
# Generates the verifier (spin -a), compiles it for safety properties
# (assertions + invalid end states; -DSAFETY -DCOLLAPSE) and runs an exhaustive
# search. Exit 0 when the search completed with no error; with --expect-error
# (a mutant, see each model's header) exit 0 only when pan found an error
# (and, with =REGEX, only when pan's error line matches REGEX, e.g.
# "invalid end state" or "assertion violated", so that a mutant cannot pass
# by tripping over an unrelated bug in the model).
# A truncated search (depth limit hit, or out of memory) is a failure either way.
# Prints "states stored: N" for docs/reliability.md.
set -euo pipefail
expect_error=0
expect_re=
if [[ ${1:-} == --expect-error* ]]; then
  expect_error=1
  [[ $1 == --expect-error=* ]] && expect_re=${1#--expect-error=}
  shift
fi
model=${1:?usage: run.sh [--expect-error] MODEL.pml [-DX=Y ...]}
shift
defs=("$@")
command -v spin >/dev/null || { echo "run.sh: spin not installed" >&2; exit 2; }
model=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-spin.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$(dirname "$model")"/*.pml . && cp "$model" model.pml
spin "${defs[@]}" -a model.pml >spin.log 2>&1 || { cat spin.log; echo "run.sh: spin -a failed"; exit 2; }
${CC:-gcc} -O2 -w -DSAFETY -DCOLLAPSE -DMEMLIM=3000 -o pan pan.c || { echo "run.sh: cannot compile pan"; exit 2; }
set +e
./pan -m1000000 >pan.out 2>&1
set -e
grep -E "errors:|states, stored|elapsed time|^pan:" pan.out || true
errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | tail -1)
[[ -n $errors ]] || { cat pan.out; echo "run.sh: pan did not finish"; exit 2; }
# pan says "Warning: Search not completed" and "pan: reached -DMEMLIM
# bound" when the memory limit cuts the search short: either is a failure,
# not a pass (a case-sensitive match missed both).
if grep -qiE "max search depth too small|out of memory|search not completed|reached -DMEMLIM" pan.out && [[ $errors == 0 ]]; then
  echo "run.sh: incomplete search"; exit 2
fi
states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | head -1)
echo "states stored: $states (model $(basename "$model") ${defs[*]:-})"
if (( expect_error )); then
  if (( errors > 0 )); then
    if [[ -n $expect_re ]] && ! grep -E '^pan:1:' pan.out | grep -qE "$expect_re"; then
      echo "run.sh: mutant rejected for another reason than /$expect_re/"; exit 1
    fi
    echo "mutant rejected as expected"
    exit 0
  fi
  echo "run.sh: mutant NOT rejected: the model no longer catches this bug"; exit 1
fi
if (( errors > 0 )); then
  spin "${defs[@]}" -t -p -g model.pml 2>&1 | tail -60
  exit 1
fi
exit 0
