# test_fault_thread interposes pthread_create with the linker's --wrap, so
# that every thread creation inside libweft (linked statically) goes through
# __wrap_pthread_create, which the test can make fail. Under the sanitizers
# __real_pthread_create is their interceptor, so they still see every thread.
if(TARGET test_fault_thread)
  target_link_options(test_fault_thread PRIVATE -Wl,--wrap=pthread_create)
  target_compile_definitions(test_fault_thread PRIVATE WEFT_FAULT_WRAP=1)
endif()
