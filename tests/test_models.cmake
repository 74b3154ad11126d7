# Bounded spin checks of the Promela models in models/ (docs/reliability.md).
# Each test generates and runs a verifier in its own temporary directory
# (models/run.sh), so they run in parallel. Mutants must be rejected: a
# mutant test passes only when spin finds the bug it plants.
find_program(WEFT_SPIN spin)
find_program(WEFT_BASH bash)
if(NOT WEFT_SPIN OR NOT WEFT_BASH)
  message(STATUS "spin not found: model checks are not registered")
  return()
endif()

set(_weft_models ${PROJECT_SOURCE_DIR}/models)
function(weft_model_check name model)
  add_test(NAME ${name} COMMAND ${WEFT_BASH} ${_weft_models}/run.sh
                                ${_weft_models}/${model} ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS model)
endfunction()
# weft_model_mutant(NAME MODEL.pml "EXPECTED pan error regex" -DMUTANT_... ...)
function(weft_model_mutant name model expect)
  add_test(NAME ${name} COMMAND ${WEFT_BASH} ${_weft_models}/run.sh "--expect-error=${expect}"
                                ${_weft_models}/${model} ${ARGN})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300 LABELS "model;mutant")
endfunction()

# Properties: exactly-once (assertions), no lost wake-up and no deadlock
# (invalid end states). Sizes keep the whole set to a few minutes of CPU, and
# every search complete: run.sh fails one that the memory limit cut short.
weft_model_check(model_park park.pml -DW=2 -DS=2 -DT=2 -DSPAWN_MAY_FAIL)
weft_model_check(model_park_w3 park.pml -DW=3 -DS=2 -DT=2 -DSPAWN_MAY_FAIL)
weft_model_check(model_inject inject.pml -DW=2 -DS=2 -DT=2 -DSPAWN_MAY_FAIL)
weft_model_check(model_inject_link_first inject.pml -DW=2 -DS=2 -DT=2 -DSPAWN_MAY_FAIL -DLINK_FIRST)
weft_model_check(model_ring ring.pml -DCAP=2 -DT=4 -DTHIEVES=2)

weft_model_mutant(model_mutant_park_no_recheck park.pml "invalid end state" -DT=2 -DMUTANT_NO_RECHECK)
weft_model_mutant(model_mutant_park_notify_before_push park.pml "invalid end state" -DT=2 -DMUTANT_NOTIFY_BEFORE_PUSH)
weft_model_mutant(model_mutant_park_no_spawn park.pml "invalid end state" -DT=2 -DMUTANT_NO_SPAWN)
weft_model_mutant(model_mutant_inject_recheck_linked_only inject.pml "invalid end state" -DT=2 -DMUTANT_RECHECK_LINKED_ONLY)
weft_model_mutant(model_mutant_inject_no_put_back inject.pml "invalid end state" -DT=2 -DMUTANT_NO_PUT_BACK -DLINK_FIRST -DRECHECK_LINKED_ONLY)
weft_model_mutant(model_mutant_inject_no_recheck inject.pml "invalid end state" -DT=2 -DMUTANT_NO_RECHECK)
weft_model_mutant(model_mutant_ring_cap_from_real ring.pml "assertion violated" -DMUTANT_CAP_FROM_REAL)
weft_model_mutant(model_mutant_ring_take_half_reloads_head ring.pml "assertion violated" -DMUTANT_TAKE_HALF_RELOADS_HEAD)
weft_model_mutant(model_mutant_ring_no_steal_mark ring.pml "assertion violated" -DMUTANT_NO_STEAL_MARK)
weft_model_mutant(model_mutant_ring_limit_from_real ring.pml "assertion violated" -DMUTANT_LIMIT_FROM_REAL)
weft_model_mutant(model_mutant_ring_limit_eq ring.pml "assertion violated" -DMUTANT_LIMIT_EQ)

# E5.5: a notify declines to wake parked threads above the limit; the
# monitor wakes them for blocked workers (about 35 s for W=3, 19 M states).
weft_model_check(model_decline decline.pml)
weft_model_check(model_decline_w3 decline.pml -DW=3)
weft_model_mutant(model_mutant_decline_no_arm decline.pml "invalid end state" -DMUTANT_DECLINE_NO_ARM)
weft_model_mutant(model_mutant_decline_old_saturated decline.pml "invalid end state" -DMUTANT_OLD_SATURATED)
weft_model_mutant(model_mutant_decline_monitor_makes_only decline.pml "invalid end state" -DMUTANT_MONITOR_MAKES_ONLY)

weft_model_check(model_sole sole.pml)
weft_model_mutant(model_mutant_sole_spawn_no_membarrier sole.pml "invalid end state" -DMUTANT_SPAWN_NO_MEMBARRIER)
weft_model_mutant(model_mutant_sole_disarm_no_membarrier sole.pml "invalid end state" -DMUTANT_DISARM_NO_MEMBARRIER)
weft_model_mutant(model_mutant_sole_no_fence_ever sole.pml "invalid end state" -DMUTANT_NO_FENCE_EVER)

weft_model_check(model_coordinator coordinator.pml -DP=3)
weft_model_mutant(model_mutant_coordinator_decrement_before_run coordinator.pml "assertion violated" -DMUTANT_DECREMENT_BEFORE_RUN)
weft_model_mutant(model_mutant_coordinator_give_up coordinator.pml "assertion violated" -DMUTANT_GIVE_UP_ON_WOULDBLOCK)
weft_model_mutant(model_mutant_coordinator_handoff_unannounced coordinator.pml "assertion violated .ran" -DMUTANT_HANDOFF_UNANNOUNCED)
weft_model_mutant(model_mutant_coordinator_no_handoff coordinator.pml "assertion violated .leave" -DMUTANT_NO_HANDOFF)

weft_model_check(model_shutdown shutdown.pml -DW=1 -DS=2)
weft_model_check(model_shutdown_w2 shutdown.pml -DW=2 -DS=1)
weft_model_mutant(model_mutant_shutdown_closed_before_count shutdown.pml "assertion violated" -DMUTANT_CLOSED_BEFORE_COUNT)
weft_model_mutant(model_mutant_shutdown_park_ignores_closed shutdown.pml "invalid end state" -DMUTANT_PARK_IGNORES_CLOSED)
weft_model_mutant(model_mutant_shutdown_no_wait_for_pushes shutdown.pml "assertion violated" -DMUTANT_NO_WAIT_FOR_PUSHES)

weft_model_check(model_window window.pml -DN=3)
weft_model_mutant(model_mutant_window_stop_ignores_windows window.pml "assertion violated" -DMUTANT_STOP_IGNORES_WINDOWS)
weft_model_mutant(model_mutant_window_check_before_register window.pml "assertion violated" -DMUTANT_CHECK_BEFORE_REGISTER)

weft_model_check(model_reactor reactor.pml -DP=3)
weft_model_mutant(model_mutant_reactor_check_before_sleeping reactor.pml "invalid end state" -DMUTANT_CHECK_BEFORE_SLEEPING)
weft_model_mutant(model_mutant_reactor_wake_only_if_not_empty reactor.pml "invalid end state" -DMUTANT_WAKE_ONLY_IF_NOT_EMPTY)
weft_model_mutant(model_mutant_reactor_uncounted_write reactor.pml "assertion violated" -DMUTANT_UNCOUNTED_WRITE)
weft_model_mutant(model_mutant_reactor_sleep_check_linked_only reactor.pml "invalid end state" -DMUTANT_SLEEP_CHECK_LINKED_ONLY)

weft_model_check(model_thread_worker thread_worker.pml -DD=2)
# The base's release against a deferred ops->quit (lib/workers/worker.c).
weft_model_check(model_worker_release worker_release.pml -DD=3)
weft_model_check(model_reap_min reap_min.pml -DR=2)
weft_model_mutant(model_mutant_reap_min_unlocked reap_min.pml "assertion violated" -DR=2 -DMUTANT_RESERVE_UNLOCKED)
weft_model_check(model_reap_min_valve reap_min.pml -DVALVE)
weft_model_mutant(model_mutant_reap_min_undo_unlocked reap_min.pml "assertion violated" -DVALVE -DMUTANT_UNDO_UNLOCKED)
weft_model_mutant(model_mutant_worker_release_at_once worker_release.pml "assertion violated" -DD=2 -DMUTANT_RELEASE_AT_ONCE)
weft_model_mutant(model_mutant_thread_worker_sleep_no_recheck thread_worker.pml "invalid end state" -DMUTANT_SLEEP_NO_RECHECK)
weft_model_mutant(model_mutant_thread_worker_quit_ignores_inflight thread_worker.pml "assertion violated" -DMUTANT_QUIT_IGNORES_INFLIGHT)
weft_model_check(model_thread_worker_factory_detaches thread_worker.pml -DD=2 -DFACTORY_DETACHES)
weft_model_mutant(model_mutant_thread_worker_detach_at_release thread_worker.pml "assertion violated .handle" -DMUTANT_DETACH_AT_RELEASE -DFACTORY_DETACHES)

weft_model_check(model_work_cancel work_cancel.pml -DC=2)
weft_model_check(model_work_cancel_c3 work_cancel.pml -DC=3)
weft_model_mutant(model_mutant_work_cancel_test_then_set work_cancel.pml "assertion violated" -DMUTANT_TEST_THEN_SET)
weft_model_mutant(model_mutant_work_cancel_cancel_tells work_cancel.pml "assertion violated" -DMUTANT_CANCEL_TELLS)
weft_model_mutant(model_mutant_work_cancel_stop_no_claim work_cancel.pml "assertion violated" -DMUTANT_STOP_NO_CLAIM)
weft_model_mutant(model_mutant_work_cancel_loser_marks work_cancel.pml "assertion violated .*already" -DMUTANT_LOSER_MARKS)
# An after_cb that hands the request on (another pool, a refused re-queue)
# between a cancel's owner check and its claim (test_cancel_handed_on).
weft_model_mutant(model_mutant_work_cancel_claim_bits_only work_cancel.pml "assertion violated .*cancel_seen" -DC=1 -DMUTANT_CLAIM_BITS_ONLY)

# Parking with a keep-alive (E9.3): reaped workers stay linked until popped.
weft_model_check(model_reap reap.pml -DW=2 -DT=2)
weft_model_mutant(model_mutant_reap_store reap.pml "invalid end state" -DW=2 -DT=2 -DMUTANT_REAP_STORE)
weft_model_mutant(model_mutant_reap_pop_ignores_timedout reap.pml "invalid end state" -DW=2 -DT=2 -DMUTANT_POP_IGNORES_TIMEDOUT)
weft_model_mutant(model_mutant_reap_reuse_linked reap.pml "assertion violated" -DW=2 -DT=2 -DMUTANT_REUSE_LINKED)
# A grow's unlink of reaped entries (weft__engine_unlink_idle, E9.3). The
# checks complete at T=1 only (T=2 passes 56 M states, past the search's
# memory); the mutants are rejected at T=2, where a task follows the grow.
weft_model_check(model_reap_grow reap.pml -DW=2 -DT=1 -DGROW)
weft_model_check(model_reap_grow_unlink reap.pml -DW=2 -DT=1 -DGROW -DGROW_ONLY_UNLINK)
weft_model_mutant(model_mutant_reap_unlink_no_wake reap.pml "invalid end state" -DW=2 -DT=2 -DGROW -DGROW_ONLY_UNLINK -DMUTANT_UNLINK_NO_WAKE)
weft_model_mutant(model_mutant_reap_unlink_keeps_count reap.pml "invalid end state" -DW=2 -DT=2 -DGROW -DGROW_ONLY_UNLINK -DMUTANT_UNLINK_KEEPS_COUNT)

# A shrink releasing a parked worker against a notify that needs a thread;
# a thread that leaves on its own against stop's joins (E9.3).
weft_model_check(model_shrink shrink.pml -DW=2)
weft_model_check(model_shrink_w3 shrink.pml -DW=3)
weft_model_mutant(model_mutant_shrink_uncount_late shrink.pml "invalid end state" -DMUTANT_UNCOUNT_LATE)
# The shrink debt (E4.1, E5.2): a shrink that finds nobody parked owes the
# rest; idle workers pay it under the mutex and chain a wake while debt is
# left; park's fenced re-check of the debt wakes one. No worker sleeps while
# a debt is owed; live never undercounts the threads that stay; the floor
# and min hold.
weft_model_check(model_shrink_debt shrink_debt.pml -DGROW)
weft_model_check(model_shrink_debt_w3 shrink_debt.pml -DW=3)
weft_model_check(model_shrink_debt_floor shrink_debt.pml -DFLOOR=1 -DGROW)
weft_model_check(model_shrink_debt_reap shrink_debt.pml -DREAP -DGROW)
weft_model_check(model_shrink_debt_n2 shrink_debt.pml -DN=2)
weft_model_check(model_shrink_debt_two_floors shrink_debt.pml -DFLOOR=1 -DSHRINKS=2)
weft_model_check(model_shrink_debt_reap_at_min shrink_debt.pml -DREAP -DMIN=1)
weft_model_check(model_shrink_debt_floor_reap shrink_debt.pml -DFLOOR=1 -DREAP)
weft_model_mutant(model_mutant_shrink_debt_no_chain shrink_debt.pml "invalid end state" -DMUTANT_NO_CHAIN -DN=2)
weft_model_mutant(model_mutant_shrink_debt_unlocked_floor shrink_debt.pml "assertion violated" -DMUTANT_EXIT_UNLOCKED -DFLOOR=1 -DSHRINKS=2)
weft_model_mutant(model_mutant_shrink_debt_unlocked_min shrink_debt.pml "assertion violated .stay>=1" -DMUTANT_EXIT_UNLOCKED -DREAP -DMIN=1)
weft_model_mutant(model_mutant_shrink_debt_load_before_push shrink_debt.pml "invalid end state" -DMUTANT_LOAD_BEFORE_PUSH)
weft_model_mutant(model_mutant_shrink_debt_park_no_debt shrink_debt.pml "invalid end state" -DMUTANT_PARK_NO_DEBT)
weft_model_mutant(model_mutant_shrink_debt_no_wake shrink_debt.pml "invalid end state" -DMUTANT_NO_WAKE)
weft_model_mutant(model_mutant_shrink_debt_stale_floor_pop shrink_debt.pml "assertion violated .live>=1" -DFLOOR=1 -DREAP -DMUTANT_SHRINK_STALE_FLOOR)
weft_model_mutant(model_mutant_shrink_debt_stale_floor_debt shrink_debt.pml "assertion violated .live>=1" -DFLOOR=1 -DREAP -DMUTANT_DEBT_STALE_FLOOR)
weft_model_mutant(model_mutant_shrink_debt_uncount_first shrink_debt.pml "assertion violated .live>=stay" -DMUTANT_UNCOUNT_FIRST)
weft_model_check(model_exit_join exit_join.pml)
weft_model_mutant(model_mutant_exit_join_detach_unlocked exit_join.pml "invalid end state" -DMUTANT_DETACH_UNLOCKED)
weft_model_mutant(model_mutant_exit_join_no_handshake exit_join.pml "assertion violated" -DMUTANT_NO_HANDSHAKE)
# The elastic monitor's thread against workers that come and go (E9.2):
# while the pool has a thread, a monitor runs.
weft_model_check(model_monitor_life monitor_life.pml)
weft_model_mutant(model_mutant_monitor_life_leave_with_live monitor_life.pml "assertion violated" -DMUTANT_LEAVE_WITH_LIVE)
weft_model_mutant(model_mutant_monitor_life_count_after monitor_life.pml "assertion violated" -DMUTANT_COUNT_AFTER)
weft_model_check(model_monitor_life_arm monitor_life.pml -DARM_RACE)
weft_model_mutant(model_mutant_monitor_life_reset_after_unlock monitor_life.pml "assertion violated" -DARM_RACE -DMUTANT_RESET_AFTER_UNLOCK)

# The monitor's leave past its mutex (E9.2) against the stop that joins it, an arm and a
# worker's start: stop never joins or touches a monitor that detached and freed itself, the
# leave touches nothing of the engine after its unlock, and a live pool keeps a monitor.
weft_model_check(model_monitor_leave monitor_leave.pml)
weft_model_mutant(model_mutant_monitor_leave_clear_unlocked monitor_leave.pml "assertion violated" -DMUTANT_CLEAR_UNLOCKED)
weft_model_mutant(model_mutant_monitor_leave_stop_unlocked monitor_leave.pml "assertion violated" -DMUTANT_STOP_UNLOCKED)
weft_model_mutant(model_mutant_monitor_leave_live_before_mutex monitor_leave.pml "assertion violated" -DMUTANT_LIVE_BEFORE_MUTEX)
weft_model_mutant(model_mutant_monitor_leave_give_back_touches monitor_leave.pml "assertion violated" -DMUTANT_GIVE_BACK_TOUCHES)

# A node-cache slab let go by its owner while its nodes come back (E6).
weft_model_check(model_node_release node_release.pml)
weft_model_check(model_node_release_part node_release.pml -DPART)
weft_model_mutant(model_mutant_node_release_bias_full node_release.pml "assertion violated" -DPART -DMUTANT_BIAS_FULL)
weft_model_mutant(model_mutant_node_release_returner_reloads node_release.pml "assertion violated" -DMUTANT_RETURNER_RELOADS)
weft_model_mutant(model_mutant_node_release_next_after_add node_release.pml "assertion violated" -DMUTANT_NEXT_AFTER_ADD)
weft_model_mutant(model_mutant_node_release_owner_loads node_release.pml "assertion violated" -DMUTANT_OWNER_LOADS)

# Lanes (lib/pool/lane.c): the limit, and no task left waiting in a lane
# (the baton's re-check and the submitter's push-then-kick).
weft_model_check(model_lane lane.pml -DS=3 -DW=2 -DL=1)
weft_model_check(model_lane_l2 lane.pml -DS=3 -DW=2 -DL=2)
weft_model_mutant(model_mutant_lane_no_recheck lane.pml "invalid end state" -DL=1 -DMUTANT_NO_RECHECK)
weft_model_mutant(model_mutant_lane_kick_before_push lane.pml "invalid end state" -DMUTANT_KICK_BEFORE_PUSH)
weft_model_mutant(model_mutant_lane_owe_at_limit lane.pml "assertion violated" -DMUTANT_OWE_AT_LIMIT)
weft_model_mutant(model_mutant_lane_admit_at_limit lane.pml "assertion violated .inpool" -DMUTANT_ADMIT_AT_LIMIT)
# stop_timeout's sweep of what waits in a lane (weft__lane_sweep)
weft_model_check(model_lane_sweep lane.pml -DS=3 -DW=1 -DL=1 -DSWEEP)
weft_model_check(model_lane_sweep_l2 lane.pml -DS=3 -DW=2 -DL=2 -DSWEEP)
weft_model_mutant(model_mutant_lane_sweep_owed_only lane.pml "invalid end state" -DSWEEP -DMUTANT_SWEEP_OWED_ONLY)
weft_model_mutant(model_mutant_lane_sweep_keeps_due lane.pml "assertion violated" -DSWEEP -DMUTANT_SWEEP_KEEPS_DUE)

# E7/E9.1: stop joins every thread although a blocked worker may start a
# stand-in after close (multi-pass join).
weft_model_check(model_stop_join stop_join.pml)
weft_model_check(model_stop_join_s4 stop_join.pml -DS=4 -DK=3)
weft_model_mutant(model_mutant_stop_join_one_pass stop_join.pml "assertion violated" -DMUTANT_ONE_PASS)
weft_model_mutant(model_mutant_stop_join_start_late stop_join.pml "assertion violated" -DMUTANT_STOP_START_LATE)
# A block announced while a stop begins gets a stand-in: the begin's or the stop's
weft_model_check(model_stop_stand_in stop_stand_in.pml)
weft_model_mutant(model_mutant_stop_stand_in_none stop_stand_in.pml "invalid end state" -DMUTANT_NO_STOP_STAND_IN)
weft_model_mutant(model_mutant_stop_stand_in_load_first stop_stand_in.pml "invalid end state" -DMUTANT_LOAD_FIRST)
# A worker told to leave (a shrink's pop, a debt paid) hands on a task that
# coalesced onto it, against a stop (3d00c57: notify_slow's closing spawn,
# the limit kept through the stop, `closed` re-read under the mutex); without
# -DCOALESCED the submitter's own start, refused by the close, is backed by
# the leaver's worker_exited (closed_hand_on_locked). With -DOWED_AT_START
# it passes only with -DCOALESCED (what remains: models/stop_leaver.pml).
# The exit's hand-on also covers notify_slow's closed branch and re-read:
# their mutants are checked without it.
weft_model_check(model_stop_leaver stop_leaver.pml -DCOALESCED)
weft_model_check(model_stop_leaver_debt stop_leaver.pml -DCOALESCED -DDEBT)
weft_model_check(model_stop_leaver_owed_at_start stop_leaver.pml -DCOALESCED -DOWED_AT_START)
weft_model_check(model_stop_leaver_submitter stop_leaver.pml)
weft_model_check(model_stop_leaver_submitter_debt stop_leaver.pml -DDEBT)
weft_model_mutant(model_mutant_stop_leaver_no_exit_handon stop_leaver.pml "assertion violated" -DMUTANT_NO_EXIT_HANDON)
weft_model_mutant(model_mutant_stop_leaver_no_closing stop_leaver.pml "assertion violated" -DCOALESCED -DMUTANT_NO_CLOSING -DMUTANT_NO_EXIT_HANDON)
weft_model_mutant(model_mutant_stop_leaver_limit_zero stop_leaver.pml "assertion violated" -DCOALESCED -DMUTANT_LIMIT_ZERO)
weft_model_mutant(model_mutant_stop_leaver_no_reread stop_leaver.pml "assertion violated" -DCOALESCED -DMUTANT_NO_REREAD -DMUTANT_NO_EXIT_HANDON)
# blockingCallFromThread's waiter (lib/loop/threads.c, lib/loop/reactor.c):
# one finish wins, the waiter wakes once, the block is never touched after
# its last unref, the reactor never after destroy.
weft_model_check(model_blocking_call blocking_call.pml)
weft_model_mutant(model_mutant_bc_check_before_register blocking_call.pml "invalid end state" -DMUTANT_CHECK_BEFORE_REGISTER)
weft_model_mutant(model_mutant_bc_release_skips_running blocking_call.pml "invalid end state" -DMUTANT_RELEASE_SKIPS_RUNNING)
weft_model_mutant(model_mutant_bc_unref_before_wake blocking_call.pml "assertion violated" -DMUTANT_UNREF_BEFORE_WAKE)
weft_model_mutant(model_mutant_bc_no_unblock blocking_call.pml "assertion violated" -DMUTANT_NO_UNBLOCK)
# A pool task in blockingCallFromThread against a stop of its pool on the
# reactor's thread (lib/engine/join_wait.c): the join releases the waiter
# (WEFT_EDEADLK) or refuses it, one outcome, no access after the free, and
# the join never waits for a worker still blocked on the joining thread, a
# wait begun before the reactor ran included.
weft_model_check(model_join_wait join_wait.pml)
weft_model_mutant(model_mutant_join_wait_no_joining_check join_wait.pml "invalid end state" -DMUTANT_NO_JOINING_CHECK)
weft_model_mutant(model_mutant_join_wait_release_unlocked join_wait.pml "assertion violated .made" -DMUTANT_RELEASE_UNLOCKED)
weft_model_mutant(model_mutant_join_wait_flag_after_walk join_wait.pml "assertion violated .*in_wait" -DMUTANT_FLAG_AFTER_WALK)
weft_model_mutant(model_mutant_join_wait_unref_before_end join_wait.pml "assertion violated .made" -DMUTANT_UNREF_BEFORE_END)
weft_model_mutant(model_mutant_join_wait_end_unlocked_look join_wait.pml "assertion violated .made" -DMUTANT_END_UNLOCKED_LOOK)
weft_model_mutant(model_mutant_join_wait_release_no_cas join_wait.pml "assertion violated .*done" -DMUTANT_RELEASE_NO_CAS)
weft_model_mutant(model_mutant_join_wait_release_no_unblock join_wait.pml "assertion violated .made" -DMUTANT_RELEASE_NO_UNBLOCK)
weft_model_mutant(model_mutant_join_wait_register_when_known join_wait.pml "invalid end state" -DMUTANT_REGISTER_WHEN_KNOWN)
weft_model_mutant(model_mutant_join_wait_learn_before_lock join_wait.pml "invalid end state" -DMUTANT_LEARN_BEFORE_LOCK)
weft_model_mutant(model_mutant_join_wait_no_learn_at_block join_wait.pml "assertion violated .*in_wait" -DMUTANT_NO_LEARN_AT_BLOCK)
weft_model_mutant(model_mutant_join_wait_no_run_walk join_wait.pml "assertion violated .*in_wait" -DMUTANT_NO_RUN_WALK)
# The stop is stop_timeout (de893f3: it joins with join_begin too), whose
# join may give up on the worker once and leave it to a later stop.
weft_model_check(model_join_wait_deadline join_wait.pml -DDEADLINE)
weft_model_mutant(model_mutant_join_wait_deadline_no_join_begin join_wait.pml "assertion violated .*in_wait" -DDEADLINE -DMUTANT_DEADLINE_NO_JOIN_BEGIN)

# E7.2 stop_timeout: the sweep against idle steals (`sweeping`), deadline joins
# with the grace on `busy`, threads left late and the stand-ins they start,
# joined by the later stop, whose close (already closed) wakes nobody.
weft_model_check(model_stop_deadline stop_deadline.pml)
weft_model_mutant(model_mutant_stop_deadline_steal_ignores_sweeping stop_deadline.pml "assertion violated.*began" -DMUTANT_STEAL_IGNORES_SWEEPING)
weft_model_mutant(model_mutant_stop_deadline_no_grace stop_deadline.pml "assertion violated.*in_deadline" -DMUTANT_NO_GRACE)
weft_model_mutant(model_mutant_stop_deadline_one_pass stop_deadline.pml "assertion violated.*in_deadline" -DMUTANT_ONE_PASS)
weft_model_mutant(model_mutant_stop_deadline_park_ignores_closed stop_deadline.pml "invalid end state" -DMUTANT_PARK_IGNORES_CLOSED)

# The Team's destroy against in-flight coordinator items (lib/workers/team.c):
# coord_items, coord_settled, the quit_refused retry and destroy's own run of
# the finishing step; ThreadWorker coordinator, and a LockWorker (-DINLINE).
weft_model_check(model_team_destroy team_destroy.pml -DW=2 -DCREATE_MAY_FAIL)
weft_model_check(model_team_destroy_inline team_destroy.pml -DINLINE -DW=2 -DCREATE_MAY_FAIL)
weft_model_mutant(model_mutant_team_destroy_end_before_run team_destroy.pml "assertion violated" -DMUTANT_END_BEFORE_RUN)
weft_model_mutant(model_mutant_team_destroy_no_retry team_destroy.pml "invalid end state" -DMUTANT_NO_RETRY)
weft_model_mutant(model_mutant_team_destroy_run_unsettled team_destroy.pml "assertion violated" -DMUTANT_RUN_UNSETTLED)
weft_model_mutant(model_mutant_team_destroy_settled_items_only team_destroy.pml "assertion violated" -DINLINE -DMUTANT_SETTLED_ITEMS_ONLY)
weft_model_mutant(model_mutant_team_destroy_no_idle_retry team_destroy.pml "invalid end state" -DMUTANT_NO_IDLE_RETRY)
weft_model_mutant(model_mutant_team_destroy_standin_dispatch team_destroy.pml "assertion violated" -DMUTANT_STANDIN_DISPATCH)

# An attached reactor's wake-ups (attach's and drain's Dekkers on `sleeping`,
# the eventfd reset first, detach from a callback) and weft_reactor_stop's
# `pushers` count against destroy (-DRUN: the built-in loop that stop ends).
weft_model_check(model_reactor_attach reactor_attach.pml)
weft_model_check(model_reactor_attach_stop reactor_attach.pml -DP=1 -DSTOP)
weft_model_check(model_reactor_attach_run reactor_attach.pml -DRUN)
weft_model_mutant(model_mutant_reactor_attach_check_first reactor_attach.pml "invalid end state" -DMUTANT_ATTACH_CHECK_FIRST)
weft_model_mutant(model_mutant_reactor_attach_drain_reset_late reactor_attach.pml "invalid end state" -DMUTANT_DRAIN_RESET_LATE)
# The detach's reset after the producers' late writes (test_reactor_detach_late_write).
weft_model_mutant(model_mutant_reactor_attach_detach_no_wait reactor_attach.pml "assertion violated .*quiet" -DP=1 -DMUTANT_DETACH_NO_WAIT)
weft_model_mutant(model_mutant_reactor_attach_detach_no_redrain reactor_attach.pml "assertion violated .*quiet" -DP=1 -DMUTANT_DETACH_NO_REDRAIN)
weft_model_mutant(model_mutant_reactor_attach_stop_count_after_flag reactor_attach.pml "assertion violated" -DRUN -DMUTANT_STOP_COUNT_AFTER_FLAG)
weft_model_mutant(model_mutant_reactor_attach_stop_dec_before_write reactor_attach.pml "assertion violated" -DRUN -DMUTANT_STOP_DEC_BEFORE_WRITE)
# A stop that saw RUNNING before the detach and counts itself after its wait
# (test_reactor_stop_detach): it looks at the state again, or writes after the reset.
weft_model_mutant(model_mutant_reactor_attach_stop_no_recheck reactor_attach.pml "assertion violated .*quiet" -DP=1 -DSTOP -DMUTANT_STOP_NO_RECHECK)
# A stop from another thread right after its own call_from_thread: that call
# runs before the shutdown (test_reactor stop_from_another_thread_runs_its_calls_first):
# the drain after a stop waits out a producer mid-push, and a stop seen only
# after the drain gets one more pass.
weft_model_check(model_reactor_attach_stop_after_push reactor_attach.pml -DRUN -DSTOP_AFTER_PUSH)
weft_model_mutant(model_mutant_reactor_attach_stop_drain_no_wait reactor_attach.pml "assertion violated .*ran" -DRUN -DSTOP_AFTER_PUSH -DMUTANT_STOP_DRAIN_NO_WAIT)
weft_model_mutant(model_mutant_reactor_attach_stop_no_extra_pass reactor_attach.pml "assertion violated .*ran" -DRUN -DSTOP_AFTER_PUSH -DMUTANT_STOP_NO_EXTRA_PASS)

# The worker layer's object pool (lib/workers/worker_slab.c): a Treiber stack
# over indices with a 32-bit ABA tag, chunk growth and the ENOMEM give-back
# CAS on nchunks. No double hand-out, no leak, no unpublished chunk touched.
weft_model_check(model_worker_slab worker_slab.pml -DFAILS=2)
weft_model_check(model_worker_slab_nu3 worker_slab.pml -DNU=3)
weft_model_mutant(model_mutant_worker_slab_no_tag worker_slab.pml "assertion violated" -DMUTANT_NO_TAG)
weft_model_mutant(model_mutant_worker_slab_push_before_publish worker_slab.pml "assertion violated" -DMUTANT_PUSH_BEFORE_PUBLISH)
weft_model_mutant(model_mutant_worker_slab_give_back_store worker_slab.pml "assertion violated" -DMUTANT_GIVE_BACK_STORE)

# fork(2) at any step of the parent's submits, windows, lane and stop (or inside a
# flush's or the stop's cancel callback, a reactor call with a window open, a lane
# task): the child's resets leave stop/destroy unblocked and the parent's tasks untold.
weft_model_check(model_fork_child fork_child.pml)
weft_model_check(model_fork_child_lane fork_child.pml -DLANE)
weft_model_mutant(model_mutant_fork_child_keep_windows fork_child.pml "invalid end state" -DMUTANT_KEEP_WINDOWS)
weft_model_mutant(model_mutant_fork_child_no_stopped fork_child.pml "assertion violated" -DMUTANT_NO_STOPPED)
weft_model_mutant(model_mutant_fork_child_keep_inject_counts fork_child.pml "invalid end state" -DMUTANT_KEEP_INJECT_COUNTS)
weft_model_mutant(model_mutant_fork_child_keep_lane fork_child.pml "assertion violated" -DLANE -DMUTANT_KEEP_LANE)

# E9.5: a failed creation (no slot, no memory, the factory) backs off and the monitor,
# armed by the failure or by a backing-off may_spawn, retries while work waits: no task
# is stranded, and the monitor disarms once no work waits though the stamp stays.
weft_model_check(model_spawn_retry spawn_retry.pml -DW=1 -DK=2)
weft_model_check(model_spawn_retry_w2 spawn_retry.pml -DT=1)
weft_model_mutant(model_mutant_spawn_retry_no_arm_backing_off spawn_retry.pml "invalid end state" -DW=1 -DK=2 -DMUTANT_NO_ARM_BACKING_OFF)
weft_model_mutant(model_mutant_spawn_retry_no_fail_arm spawn_retry.pml "invalid end state" -DT=1 -DMUTANT_NO_FAIL_ARM)
weft_model_mutant(model_mutant_spawn_retry_no_stamp spawn_retry.pml "invalid end state" -DT=1 -DMUTANT_NO_STAMP)
weft_model_mutant(model_mutant_spawn_retry_old_disarm spawn_retry.pml "invalid end state" -DT=1 -DMUTANT_OLD_DISARM)

# adjust_poolsize against the pool's threads (E4.1, E9.3; test_resize_races):
# the limit and min stored under the engine mutex before the resize reads
# `live`, try_reap's min re-read under it, the debt forgiven below the new
# min, try_reap's floor counting the debt owed. Once quiet the pool is
# within the last call's bounds (a strict cap never above max, never below
# min). The mutants restore each fault: forgive_looks_first and
# reap_ignores_debt were found by this model.
weft_model_check(model_resize_bounds_spawn resize_bounds.pml -DSPAWN)
weft_model_check(model_resize_bounds_spawn_w2 resize_bounds.pml -DSPAWN -DW=2)
weft_model_check(model_resize_bounds_reap resize_bounds.pml -DREAP)
weft_model_check(model_resize_bounds_reap_w2 resize_bounds.pml -DREAP -DW=2 -DR=2)
weft_model_check(model_resize_bounds_debt resize_bounds.pml -DDEBT)
weft_model_check(model_resize_bounds_debt_reap resize_bounds.pml -DDEBT -DKEEPALIVE)
weft_model_check(model_resize_bounds_debt_owed_reap resize_bounds.pml -DDEBT -DKEEPALIVE -DLOWMIN)
weft_model_check(model_resize_bounds_floor resize_bounds.pml -DFLOOR)
weft_model_mutant(model_mutant_resize_bounds_spawn_unlocked resize_bounds.pml "assertion violated .live<=" -DSPAWN -DMUTANT_LIMIT_UNLOCKED -DMUTANT_MIN_UNLOCKED -DMUTANT_NO_FORGIVE)
weft_model_mutant(model_mutant_resize_bounds_reap_stale_min resize_bounds.pml "assertion violated .live>=" -DREAP -DMUTANT_REAP_STALE_MIN)
weft_model_mutant(model_mutant_resize_bounds_reap_min_unlocked resize_bounds.pml "assertion violated .live>=" -DREAP -DMUTANT_MIN_UNLOCKED -DMUTANT_NO_FORGIVE)
weft_model_mutant(model_mutant_resize_bounds_debt_no_forgive resize_bounds.pml "assertion violated .live>=" -DDEBT -DMUTANT_NO_FORGIVE)
weft_model_mutant(model_mutant_resize_bounds_debt_forgive_looks_first resize_bounds.pml "assertion violated .live>=" -DDEBT -DMUTANT_FORGIVE_LOOKS_FIRST)
weft_model_mutant(model_mutant_resize_bounds_reap_ignores_debt resize_bounds.pml "assertion violated .live>=" -DDEBT -DKEEPALIVE -DLOWMIN -DMUTANT_REAP_IGNORES_DEBT)
weft_model_mutant(model_mutant_resize_bounds_shrink_stale_floor resize_bounds.pml "assertion violated .live>=" -DFLOOR -DMUTANT_SHRINK_STALE_FLOOR)
weft_model_mutant(model_mutant_resize_bounds_debt_stale_floor resize_bounds.pml "assertion violated .live>=" -DFLOOR -DMUTANT_DEBT_STALE_FLOOR)

# E9.3: a resize under announced blocks settles at its new max as the
# grants go back (lib/engine/engine.c weft__engine_settle_after_resize,
# weft__engine_grants_returned).
weft_model_check(model_settle settle.pml)
weft_model_check(model_settle_g3 settle.pml -DG=3)
weft_model_check(model_settle_min settle.pml -DNEWMIN=1 -DP=0)
weft_model_check(model_settle_g3_min settle.pml -DG=3 -DP=2 -DNEWMIN=1)
weft_model_mutant(model_mutant_settle_none settle.pml "assertion violated .live<=" -DMUTANT_NO_SETTLE)
weft_model_mutant(model_mutant_settle_late settle.pml "assertion violated .live<=" -DMUTANT_SETTLE_LATE)
weft_model_mutant(model_mutant_settle_held_count settle.pml "assertion violated .live<=" -DMUTANT_HELD_COUNT)
weft_model_mutant(model_mutant_settle_keep_stale settle.pml "assertion violated .live<=" -DMUTANT_KEEP_STALE)
weft_model_mutant(model_mutant_settle_shrinks_at_once settle.pml "assertion violated .live>=" -DMUTANT_SHRINKS_AT_ONCE -DNEWMIN=1)
# A grant made after the resize's mark or the last return's clear, kept by
# a later floor read: the floor's own mark (engine.c floor_at_limit_locked).
weft_model_check(model_settle_begin settle.pml -DBEGIN)
weft_model_check(model_settle_begin_g0 settle.pml -DBEGIN -DG=0)
weft_model_check(model_settle_begin_min settle.pml -DBEGIN -DG=1 -DNEWMIN=1 -DP=0)
weft_model_mutant(model_mutant_settle_no_floor_mark settle.pml "assertion violated .live<=" -DBEGIN -DMUTANT_NO_FLOOR_MARK)
weft_model_mutant(model_mutant_settle_no_floor_mark_g0 settle.pml "assertion violated .live<=" -DBEGIN -DG=0 -DMUTANT_NO_FLOOR_MARK)
weft_model_mutant(model_mutant_settle_second_look_no_mark settle.pml "assertion violated .live<=" -DBEGIN -DMUTANT_SECOND_LOOK_NO_MARK)
