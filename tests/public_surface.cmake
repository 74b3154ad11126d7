# The public surface, guarded:
# - exported_symbols: the shared library exports weft_* functions only (no
#   weft__ internals, no symbol of a dependency or of the compiler's);
# - each public header compiles alone as ISO C11 with -pedantic (the C++
#   side is test_headers_cxx): a header that leans on another's includes,
#   or on a compiler extension, fails the build.
add_test(NAME exported_symbols
  COMMAND ${CMAKE_COMMAND} -DNM=${CMAKE_NM} -DLIB=$<TARGET_FILE:weft>
          -P ${CMAKE_CURRENT_SOURCE_DIR}/exported_symbols.cmake.in)

file(GLOB WEFT_SURFACE_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/weft/*.h)
set(WEFT_HEADER_UNITS)
foreach(h ${WEFT_SURFACE_HEADERS})
  get_filename_component(base ${h} NAME_WE)
  set(unit ${CMAKE_CURRENT_BINARY_DIR}/header_alone_${base}.c)
  # version.h holds macros only: the unit adds a declaration, or -pedantic
  # calls it an empty translation unit.
  file(WRITE ${unit}.tmp "#include \"weft/${base}.h\"\ntypedef int header_alone_${base};\n")
  configure_file(${unit}.tmp ${unit} COPYONLY)
  list(APPEND WEFT_HEADER_UNITS ${unit})
endforeach()
add_library(weft_headers_alone OBJECT ${WEFT_HEADER_UNITS})
target_include_directories(weft_headers_alone PRIVATE ${PROJECT_SOURCE_DIR}/include)
set_target_properties(weft_headers_alone PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
  C_EXTENSIONS OFF)
target_compile_options(weft_headers_alone PRIVATE -Wall -Wextra -Werror -pedantic)
