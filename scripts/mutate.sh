#!/usr/bin/env bash
# Deliberate breaks: plant one-line bugs in a copy of the tree and check that
# the tests catch each one (docs/reliability.md, "Deliberate breaks").
#
#   bash scripts/mutate.sh            every mutant
#   bash scripts/mutate.sh NAME...    only these (names: bash scripts/mutate.sh --list)
#
# The working tree (what is checked out, edits included; no build dirs, no
# .git) is copied to a scratch directory; the real checkout is never written.
# One Debug build (gcc, WEFT_DEBUG invariants on) serves every mutant: a
# mutant's file is edited with sed, rebuilt, the tests named for it run with
# a per-test timeout (a broken park or stop hangs instead of failing), and
# the file is restored before the next mutant. The file is found by a string
# it contains (grep), not by its path, so lib/ may be reorganised.
#
# A mutant is CAUGHT when at least one of its tests fails or times out,
# SURVIVED when they all pass. Racy mutants are run REPEAT times (ctest
# --repeat until-fail). Before the mutants, the unmutated copy must pass the
# same tests. Exit status: 0 if every mutant was caught, 1 if one survived,
# 2 if a mutant could not be applied or built (the sed pattern is stale) or
# the unmutated tests failed.
#
# Environment: WEFT_MUTATE_DIR (scratch directory, default a new mktemp -d;
# kept afterwards, with every log), WEFT_MUTATE_TIMEOUT (seconds per test,
# default 60), WEFT_MUTATE_JOBS (default 2), WEFT_MUTATE_REPEAT (default 3).
# Not part of CI (scripts/test.sh): it takes several minutes.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
timeout_s=${WEFT_MUTATE_TIMEOUT:-60}
jobs=${WEFT_MUTATE_JOBS:-2}
repeat=${WEFT_MUTATE_REPEAT:-3}

names=() markers=() edits=() tests=() whats=()
# mutant NAME MARKER SED-SCRIPT TESTS(ctest -R regex) WHAT
#   MARKER: a fixed string found in exactly one file of lib/, include/ or the
#   top CMakeLists.txt; SED-SCRIPT is applied to that file and must change it.
mutant() { names+=("$1"); markers+=("$2"); edits+=("$3"); tests+=("$4"); whats+=("$5"); }

engine_tests='^(test_engine|test_threadpool|test_threadpool_stress|test_pool|test_team|test_shutdown_contract|test_submit_window|torture_pool_short|torture_team_short)$'

mutant park_no_recheck 'weft__engine_park(weft__engine *e, weft__eworker *w) {' \
  's/} else if (weft__engine_work_visible(e)) {/} else if (0 \&\& weft__engine_work_visible(e)) {/' \
  "$engine_tests" \
  'E5.2: after the park CAS the worker does not re-check for visible work (lost wake-up)'
mutant steal_claim_plain_store 'weft__ring_steal_into(weft__ring *src' \
  's/if (weft__cas_acq_rel(&src->head, &h, next)) break;/{ weft__store_release(\&src->head, next); break; }/' \
  '^(test_ring|test_engine|test_threadpool|test_threadpool_stress)$' \
  'E3: the thief claims with a plain store instead of the CAS (races the owner pop)'
mutant steal_never 'weft__ring_steal_into(weft__ring *src' \
  's/if (weft__cas_acq_rel(&src->head, &h, next)) break;/return NULL;/' \
  '^(test_ring|test_engine|test_threadpool|test_threadpool_stress)$' \
  'E3: a steal always gives up (no task is ever stolen)'
mutant stop_no_wait_for_pushes 'int weft__engine_stop(weft__engine *e) {' \
  's/if (weft__inject_pushed(in) == weft__load_relaxed(&in->popped)) break;/break;/' \
  "$engine_tests" \
  'E7: stop cancels what it finds and returns without waiting until every counted push was popped'
mutant inject_popped_short 'static weft__task *inject_batch(' \
  's/weft__inject_count_popped(in, n);/weft__inject_count_popped(in, n - (n > 1));/' \
  "$engine_tests" \
  'E4: a worker taking a batch of n > 1 from the inject queue counts n - 1 popped'
mutant pool_keeps_call_node 'static void call_run(weft__task *t)' \
  '/^static void call_run(/,/^}/ s/if (WEFT_UNLIKELY(!weft__node_try_put_in_worker(n))) {/if (0) {/' \
  '^test_threadpool$' \
  'case 34: call_in_thread never gives the task node (fn, arg) back'
mutant pool_keeps_callback_node 'static void callback_run(weft__task *t)' \
  '/^static void callback_run(/,/^}/ s/weft__node_put_in_worker(n);/(void)n;/' \
  '^test_threadpool$' \
  'case 35: call_in_thread_with_callback keeps the task node (fn, arg, on_result, ctx)'
mutant on_result_gets_arg 'static void callback_run(weft__task *t)' \
  '/^static void callback_run(/,/^}/ s/c.on_result(c.ctx_or_tp, status, result)/c.on_result(c.ctx_or_tp, status, c.arg)/' \
  '^test_threadpool$' \
  'case 43: on_result is given the submission'"'"'s arg instead of fn'"'"'s result'
mutant release_one_blocked 'void weft__reactor_release_blocked(weft_reactor *r) {' \
  '/^void weft__reactor_release_blocked(/,/^}/ s/while (r->blocked.next != &r->blocked) {/if (r->blocked.next != \&r->blocked) {/' \
  '^test_threads$' \
  'shutdown releases only the first thread blocked in blocking_call_from_thread'
mutant continuation_no_wake 'return weft__engine_submit_to_ring(e, w, t, !next);' \
  's/return weft__engine_submit_to_ring(e, w, t, !next);/return weft__engine_submit_to_ring(e, w, t, next);/' \
  '^test_lanes$' \
  'E5.1: a lane hand-off that is not a finishing task'"'"'s own lands in the ring with nobody woken'
mutant version_not_in_header 'project(weft VERSION' \
  's/^project(weft VERSION \([0-9]*\)\.\([0-9]*\)\.[0-9]*/project(weft VERSION \1.\2.99/' \
  '^test_error$' \
  'project(VERSION) bumped, include/weft/version.h not'
mutant context_call_wrong_slot 'static const weft_context_hooks *call_hooks(uintptr_t owner_slot) {' \
  's/return slot ? weft__load_acquire(&hook_slot\[slot\]) : NULL;/return slot ? weft__load_acquire(\&hook_slot[1]) : NULL;/' \
  '^test_context$' \
  'E10: a call in its own node is told through the first slot'"'"'s hooks table, not its own'
mutant context_call_plain_keeps_context 'static void call_run_plain(weft__task *t) {' \
  '/^static void call_run_plain(/,/^}/ s/^  leave(&f, NULL, NULL);$/  (void)f;/' \
  '^test_context$' \
  'E10: a call captured without hooks leaves its context current on the worker after it ran'
mutant context_ref_call_no_context 'void weft__context_ref_call(const weft__context_ref *ref, void (*fn)(void *), void *arg) {' \
  '/^void weft__context_ref_call(/,/^}/ s/^  enter_plain(&f, ref->ctx, NULL);.*$/  enter_plain(\&f, NULL, NULL);/' \
  '^test_context$' \
  'E10: a round trip that carries its context runs its work and its Deferred with no context current'
mutant rt_context_never_released 'static void rt_complete_in_context(weft__task *t) {' \
  '/^static void rt_complete_in_context(/,/^}/ s/^  weft__context_ref_release(&ref);$/  (void)ref;/' \
  '^test_context$' \
  'E10: a round trip in context keeps its reference after the Deferred fired'
mutant shrink_stale_floor 'static int shrink_to_floor(weft__engine *e, int n, int floor) {' \
  's/if (floor != INT_MIN \&\& over_floor_locked(e, floor) <= 0) {/if (0) {/' \
  '^test_engine$' \
  'E9.3: a shrink to a floor trusts its first look at the surplus, and a worker that reaped itself since is one more gone'
mutant shrink_debt_stale_floor 'static int shrink_to_floor(weft__engine *e, int n, int floor) {' \
  's/if (rest > now) rest = now;/(void)now;/' \
  '^test_engine$' \
  'E9.3: a shrink owes the surplus of its first look, and a worker that reaped itself since is paid for again'
mutant settle_no_floor_mark 'static int floor_at_limit_locked(weft__engine *e) {' \
  's/if (grants > 0) e->settling = 1;/(void)0;/' \
  '^(test_engine|test_resize_races)$' \
  'E9.3: a shrink keeps a thread for a grant made after the settle mark, and its return shrinks nothing'

if [ "${1:-}" = --list ]; then
  for i in "${!names[@]}"; do printf '%-26s %s\n' "${names[$i]}" "${whats[$i]}"; done
  exit 0
fi
selected=("$@")
want() {
  [ ${#selected[@]} -eq 0 ] && return 0
  local s; for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1
}
for s in "${selected[@]}"; do
  found=0; for n in "${names[@]}"; do [ "$n" = "$s" ] && found=1; done
  [ $found = 1 ] || { echo "mutate.sh: no mutant named $s (--list)"; exit 2; }
done

work=${WEFT_MUTATE_DIR:-$(mktemp -d /tmp/weft-mutate.XXXXXX)}
mkdir -p "$work"
src="$work/src" build="$work/build" logs="$work/logs"
rm -rf "$src" "$logs"
mkdir -p "$src" "$logs"
echo "mutate.sh: copying $root to $src"
# -m: the copies get the current time, so a build dir kept from an earlier
# run (WEFT_MUTATE_DIR) rebuilds what its last mutant left compiled.
tar -C "$root" --exclude='./build*' --exclude=./.git --exclude=./out -cf - . | tar -C "$src" -xmf - \
  || { echo "mutate.sh: copy failed"; exit 2; }

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
  -DWEFT_SANITIZE= -DWEFT_BUILD_TESTS=ON -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF \
  -DWEFT_TEST_TIMEOUT="$timeout_s" > "$logs/configure.log" 2>&1 \
  || { cat "$logs/configure.log"; exit 2; }

# The tests run at their written size (WEFT_TEST_CONFIG unset).
run_tests() { # regex log [repeat]
  (cd "$build" && env -u WEFT_TEST_CONFIG CMOCKA_MESSAGE_OUTPUT=STDOUT \
     ctest -R "$1" -j "$jobs" --output-on-failure ${3:+--repeat until-fail:$3}) > "$2" 2>&1
}
failed_tests() { # log -> "name (Failed|Timeout|...)" list
  sed -n -E 's/.*Test +#[0-9]+: ([^ ]+) \.+[* ]*([A-Za-z][A-Za-z: ]*[A-Za-z]).*/\1 (\2)/p' "$1" |
    grep -v '(Passed)' | sort -u | paste -sd, - | sed 's/,/, /g'
}

all_tests=$(for i in "${!names[@]}"; do want "${names[$i]}" && echo "${tests[$i]}"; done |
  sed -E 's/^\^\(//; s/\)\$$//; s/^\^//; s/\$$//' | tr '|' '\n' | sort -u | paste -sd'|' -)
all_tests="^($all_tests)\$"
echo "mutate.sh: building the unmutated copy"
cmake --build "$build" -j "$jobs" > "$logs/build-baseline.log" 2>&1 \
  || { tail -30 "$logs/build-baseline.log"; exit 2; }
if ! run_tests "$all_tests" "$logs/baseline.log"; then
  echo "mutate.sh: the unmutated tests fail: $(failed_tests "$logs/baseline.log") ($logs/baseline.log)"
  exit 2
fi
echo "mutate.sh: unmutated: $all_tests pass"

status=0
results=()
for i in "${!names[@]}"; do
  name=${names[$i]}
  want "$name" || continue
  mapfile -t files < <(grep -rlF -- "${markers[$i]}" "$src/lib" "$src/include" "$src/CMakeLists.txt" 2>/dev/null)
  if [ ${#files[@]} -ne 1 ]; then
    results+=("$name|-|NOT APPLIED: marker found in ${#files[@]} files|-")
    status=2
    continue
  fi
  f=${files[0]}
  rel=${f#"$src/"}
  cp -p "$f" "$work/pristine"
  sed -i -e "${edits[$i]}" "$f"
  if cmp -s "$f" "$work/pristine"; then
    results+=("$name|$rel|NOT APPLIED: the sed script changed nothing|-")
    status=2
    cp -p "$work/pristine" "$f"
    continue
  fi
  diff -u "$work/pristine" "$f" > "$logs/$name.diff"
  echo "mutate.sh: $name ($rel)"
  if ! cmake --build "$build" -j "$jobs" > "$logs/$name.build.log" 2>&1; then
    results+=("$name|$rel|NOT BUILT (see $logs/$name.build.log)|-")
    status=2
  else
    rep=""
    case "$name" in park_*|stop_*|steal_claim_*) rep=$repeat ;; esac
    start=$(date +%s)
    if run_tests "${tests[$i]}" "$logs/$name.log" "$rep"; then
      verdict=SURVIVED
      [ $status = 0 ] && status=1
      by="-"
    else
      verdict=CAUGHT
      by=$(failed_tests "$logs/$name.log")
    fi
    secs=$(( $(date +%s) - start ))
    results+=("$name|$rel|$verdict|$by|${secs}s")
  fi
  cp -p "$work/pristine" "$f" # restore (a newer mtime than the mutant's: rebuilt next time)
  touch "$f"
done

echo
echo "| mutant | file | verdict | failing tests | time |"
echo "|---|---|---|---|---|"
for r in "${results[@]}"; do
  IFS='|' read -r n rel v by secs <<< "$r"
  echo "| \`$n\` | \`$rel\` | $v | $by | ${secs:--} |"
done
echo
echo "mutate.sh: logs and diffs in $logs"
exit $status
