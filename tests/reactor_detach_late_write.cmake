# test_reactor_detach_late_write interposes write(2), read(2) and
# weft__hosted_detach with the linker's --wrap (libweft is linked
# statically), so that a producer can be held between its link and its
# eventfd write while the host detaches.
if(TARGET test_reactor_detach_late_write)
  target_link_options(test_reactor_detach_late_write PRIVATE -Wl,--wrap=write -Wl,--wrap=read
                      -Wl,--wrap=weft__hosted_detach)
endif()
