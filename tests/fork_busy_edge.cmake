# test_fork_busy_edge interposes clock_gettime with the linker's --wrap, so
# that a pool thread can be held inside its busy-time write (lib/engine/
# worker_stats.h) while the test forks.
if(TARGET test_fork_busy_edge)
  target_link_options(test_fork_busy_edge PRIVATE -Wl,--wrap=clock_gettime)
  target_compile_definitions(test_fork_busy_edge PRIVATE WEFT_WRAP_CLOCK=1)
endif()
