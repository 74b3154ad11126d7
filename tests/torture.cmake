# Torture programs (tests/torture_*.c): argv-sized validate programs in the
# style of ck's and liburcu's. CI runs them with small parameters; the soak
# (scripts/soak.sh) runs them for minutes.
file(GLOB WEFT_TORTURE CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/torture_*.c)
foreach(src ${WEFT_TORTURE})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE weft_static Threads::Threads)
endforeach()

if(TARGET torture_pool)
  # submitters iterations rounds max_threads
  add_test(NAME torture_pool_short COMMAND torture_pool 3 2000 6 4)
  set_tests_properties(torture_pool_short PROPERTIES TIMEOUT 120 LABELS torture)
  # one pool-thread creation in 3 fails: rounds short of workers or with none
  add_test(NAME torture_pool_spawn_fail COMMAND torture_pool 3 2000 6 4)
  set_tests_properties(torture_pool_spawn_fail PROPERTIES TIMEOUT 120 LABELS torture
    ENVIRONMENT "WEFT_TORTURE_SPAWN_FAIL=3")
endif()
if(TARGET torture_reactor)
  # foreign_threads calls_per_thread deferred_chains chain_length
  add_test(NAME torture_reactor_short COMMAND torture_reactor 3 2000 4 200)
  set_tests_properties(torture_reactor_short PROPERTIES TIMEOUT 120 LABELS torture)
endif()
if(TARGET torture_team)
  # submitters iterations rounds
  add_test(NAME torture_team_short COMMAND torture_team 3 2000 6)
  set_tests_properties(torture_team_short PROPERTIES TIMEOUT 120 LABELS torture)
  # the churn thread grows/shrinks in a tight loop: without a bound on the
  # coordinator's drain a submitter was held in weft_team_do for ever (the
  # drain-until-empty coordinator hung in 42 of 150 runs of these arguments)
  add_test(NAME torture_team_unbounded_churn COMMAND torture_team 3 2000 6)
  set_tests_properties(torture_team_unbounded_churn PROPERTIES TIMEOUT 120 LABELS torture
    ENVIRONMENT "WEFT_TORTURE_CHURN_OPS=0")
endif()
