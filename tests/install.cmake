# The installed package works for a consumer (find_package + pkg-config).
# Sanitized builds are skipped: their libweft.so needs the sanitizer runtime.
if(NOT WEFT_SANITIZE)
  add_test(NAME install_package
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_check.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
                   $<CONFIG>)
  set_tests_properties(install_package PROPERTIES TIMEOUT 120)
endif()
# libweft configures with no pkg-config module visible (it needs none: README
# "Dependencies") and no C++ compiler (it is C); the tests, examples and
# bench, which need them, are switched off.
add_test(NAME configure_without_packages
         COMMAND ${CMAKE_COMMAND} -E env --unset=PKG_CONFIG_PATH PKG_CONFIG_LIBDIR=/nonexistent
                 ${CMAKE_COMMAND} -S ${PROJECT_SOURCE_DIR} -B ${CMAKE_CURRENT_BINARY_DIR}/nopkg
                 -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=OFF
                 -DCMAKE_CXX_COMPILER=/nonexistent/c++)
set_tests_properties(configure_without_packages PROPERTIES TIMEOUT 120)
# The how-to examples configure without pkg-config at all (libuv and libevent,
# found through it, are then skipped like when they are not installed).
add_test(NAME configure_examples_without_pkgconfig
         COMMAND ${CMAKE_COMMAND} -S ${PROJECT_SOURCE_DIR} -B ${CMAKE_CURRENT_BINARY_DIR}/nopkgconfig
                 -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=ON -DWEFT_BUILD_BENCH=OFF
                 -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON)
set_tests_properties(configure_examples_without_pkgconfig PROPERTIES TIMEOUT 120)
# So does the bench (its peers found through pkg-config are left out).
add_test(NAME configure_bench_without_pkgconfig
         COMMAND ${CMAKE_COMMAND} -S ${PROJECT_SOURCE_DIR} -B ${CMAKE_CURRENT_BINARY_DIR}/nopkgconfig_bench
                 -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_EXAMPLES=OFF -DWEFT_BUILD_BENCH=ON
                 -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON)
set_tests_properties(configure_bench_without_pkgconfig PROPERTIES TIMEOUT 120)
# WEFT_DEBUG's default follows the configuration under a multi-config
# generator too (Debug: 2). Registered where ninja is installed.
find_program(WEFT_NINJA ninja)
if(WEFT_NINJA)
  add_test(NAME weft_debug_multi_config
           COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR} -DBIN=${CMAKE_CURRENT_BINARY_DIR}/multiconfig
                   "-DGEN=Ninja Multi-Config" -P ${CMAKE_CURRENT_SOURCE_DIR}/weft_debug_config.cmake.in)
  set_tests_properties(weft_debug_multi_config PROPERTIES TIMEOUT 120)
endif()
# weft.pc's includedir is where the headers go, for relative and absolute
# CMAKE_INSTALL_INCLUDEDIR / LIBDIR alike (configure only: nothing is built).
add_test(NAME pkgconfig_install_dirs
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pkgconfig_dirs.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(pkgconfig_install_dirs PROPERTIES TIMEOUT 120)
