# test_reactor_nomem interposes epoll_ctl with the linker's --wrap (libweft
# is linked statically), so that a test can make epoll refuse a descriptor
# as it does at its limit of watched descriptors (ENOSPC,
# max_user_watches): watch_limit_is_out_of_memory. Every other call goes to
# the real epoll_ctl (under the sanitizers, their interceptor).
if(TARGET test_reactor_nomem)
  target_link_options(test_reactor_nomem PRIVATE -Wl,--wrap=epoll_ctl)
endif()
