# test_cancel_stop_race interposes weft__engine_stopped with the linker's
# --wrap (libweft is linked statically), so that the test can run a whole
# stop on another thread at the moment weft_threadpool_cancel_work asks
# whether the pool's stop has completed.
if(TARGET test_cancel_stop_race)
  target_link_options(test_cancel_stop_race PRIVATE -Wl,--wrap=weft__engine_stopped)
endif()
