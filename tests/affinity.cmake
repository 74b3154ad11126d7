# test_affinity interposes pthread_setaffinity_np with the linker's --wrap
# (libweft is linked statically), so that a worker's pin can be made to fail
# as it does when its CPU has gone away since the pool was made (hot-unplug,
# a cpuset change), and __sched_cpualloc (glibc's CPU_ALLOC), so that a CPU
# mask's allocation can fail.
if(TARGET test_affinity)
  target_link_options(test_affinity PRIVATE -Wl,--wrap=pthread_setaffinity_np
                      -Wl,--wrap=__sched_cpualloc)
  target_compile_definitions(test_affinity PRIVATE WEFT_AFFINITY_WRAP=1)
endif()
