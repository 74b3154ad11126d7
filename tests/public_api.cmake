# test_public_api calls every public function with bad arguments; the calls
# are generated from the public headers at build time, so the list cannot go
# stale.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
file(GLOB WEFT_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/weft/*.h)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/public_api_calls.h
  COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/public_api_calls.py
          ${CMAKE_CURRENT_BINARY_DIR}/public_api_calls.h ${WEFT_PUBLIC_HEADERS}
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/public_api_calls.py ${WEFT_PUBLIC_HEADERS}
  COMMENT "Generating the public API calls of test_public_api")
target_sources(test_public_api PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/public_api_calls.h)
target_include_directories(test_public_api PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
