# test_reactor_stop_detach interposes weft__reactor_stop_enter, write(2) and
# weft__hosted_detach with the linker's --wrap (libweft is linked
# statically), so that a weft_reactor_stop can be held between its look at
# the state and its count in `pushers`, or before its eventfd write, while
# the host detaches.
if(TARGET test_reactor_stop_detach)
  target_link_options(test_reactor_stop_detach PRIVATE -Wl,--wrap=weft__reactor_stop_enter
                      -Wl,--wrap=write -Wl,--wrap=weft__hosted_detach)
endif()
