# test_cancel_handed_on interposes weft__threadpool_engine with the linker's
# --wrap (libweft is linked statically), so that the test can let a pool
# thread hand a request on (to a reactor, to another pool) at the moment
# weft_threadpool_cancel_work has checked that the request is the pool's
# and has not yet claimed it.
if(TARGET test_cancel_handed_on)
  target_link_options(test_cancel_handed_on PRIVATE -Wl,--wrap=weft__threadpool_engine)
endif()
