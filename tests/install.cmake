# The installed package works for a consumer (find_package + pkg-config).
# Sanitized builds are skipped: their libweft.so needs the sanitizer runtime.
if(NOT WEFT_SANITIZE)
  add_test(NAME install_package
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_check.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
  set_tests_properties(install_package PROPERTIES TIMEOUT 120)
endif()
