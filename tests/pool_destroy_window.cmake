# test_pool_destroy_window interposes sched_yield with the linker's --wrap
# (libweft is linked statically): a yield by the thread in weft_team_destroy
# is the engine stop's wait for a submit window (lib/engine/engine.c).
if(TARGET test_pool_destroy_window)
  target_link_options(test_pool_destroy_window PRIVATE -Wl,--wrap=sched_yield)
endif()
