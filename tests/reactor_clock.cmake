# test_reactor_clock interposes clock_gettime with the linker's --wrap
# (libweft is linked statically), so that a test can hold CLOCK_MONOTONIC
# still: call_later deadlines taken in one pass then compare equal, as they
# do on a coarse clock, and the order Twisted gives them is checked without
# timing. Under the sanitizers __real_clock_gettime is their interceptor.
# sched_yield and epoll_wait too: a yield of the loop's busy wait moves the
# held clock on, and each epoll_wait's timeout is checked against the
# deadline left when it is called (the_sleep_after_the_busy_wait_keeps_the_deadline).
if(TARGET test_reactor_clock)
  target_link_options(test_reactor_clock PRIVATE -Wl,--wrap=clock_gettime
    -Wl,--wrap=sched_yield -Wl,--wrap=epoll_wait)
endif()
