# libweft dlclose'd while a thread that used it lives on (tests/dlclose_check.c):
# the shared library, not the static one the cmocka tests link.
if(TARGET weft)
  add_executable(dlclose_check ${CMAKE_CURRENT_SOURCE_DIR}/dlclose_check.c)
  target_link_libraries(dlclose_check PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  add_test(NAME dlclose_check COMMAND dlclose_check $<TARGET_FILE:weft>)
  set_tests_properties(dlclose_check PROPERTIES TIMEOUT 60)
endif()
