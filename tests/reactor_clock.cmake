# test_reactor_clock interposes clock_gettime with the linker's --wrap
# (libweft is linked statically), so that a test can hold CLOCK_MONOTONIC
# still: call_later deadlines taken in one pass then compare equal, as they
# do on a coarse clock, and the order Twisted gives them is checked without
# timing. Under the sanitizers __real_clock_gettime is their interceptor.
if(TARGET test_reactor_clock)
  target_link_options(test_reactor_clock PRIVATE -Wl,--wrap=clock_gettime)
endif()
