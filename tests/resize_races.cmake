# test_resize_races interposes pthread_mutex_lock with the linker's --wrap
# (libweft is linked statically), so that a test sees a thread wait for the
# engine mutex without polling: the wrapper notes a lock that finds the
# watched mutex held. Under the sanitizers __real_pthread_mutex_lock is
# their interceptor.
if(TARGET test_resize_races)
  target_link_options(test_resize_races PRIVATE -Wl,--wrap=pthread_mutex_lock)
endif()
