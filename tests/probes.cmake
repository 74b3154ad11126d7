# ctest fragment: libweft.so carries the USDT probes of provider "weft" that
# perf/README.md documents (lib/base/probes.h): submit start finish steal park
# unpark grow shrink inject_batch valve brake stuck create_failed heap_trim.
# Registered only when sys/sdt.h was found at configure time and readelf
# exists.
#
# Dual use: included by tests/CMakeLists.txt it registers the test; run with
# `cmake -DREADELF=... -DLIB=... -P probes.cmake` it performs the check.
set(WEFT_PROBE_NAMES submit start finish steal park unpark grow shrink inject_batch
    valve brake stuck create_failed heap_trim)

if(CMAKE_SCRIPT_MODE_FILE)
  execute_process(COMMAND ${READELF} -n ${LIB}
                  OUTPUT_VARIABLE notes ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf -n ${LIB} failed (${rc}): ${err}")
  endif()
  string(REGEX MATCHALL "Provider: weft[\r\n]+[ \t]*Name: [A-Za-z0-9_]+" found "${notes}")
  set(names "")
  foreach(m ${found})
    string(REGEX REPLACE ".*Name: " "" n "${m}")
    list(APPEND names ${n})
  endforeach()
  list(REMOVE_DUPLICATES names)
  set(missing "")
  foreach(p ${WEFT_PROBE_NAMES})
    list(FIND names ${p} at)
    if(at EQUAL -1)
      list(APPEND missing ${p})
    endif()
  endforeach()
  if(missing)
    string(REPLACE ";" " " missing "${missing}")
    string(REPLACE ";" " " names "${names}")
    message(FATAL_ERROR "libweft lacks USDT probes weft:{${missing}} (found: ${names})")
  endif()
  list(LENGTH found count)
  string(REPLACE ";" " " all "${WEFT_PROBE_NAMES}")
  message(STATUS "weft:{${all}} present, ${count} probe sites")
  return()
endif()

if(WEFT_HAVE_SDT AND TARGET weft)
  find_program(WEFT_READELF NAMES readelf ${CMAKE_READELF})
  if(WEFT_READELF)
    add_test(NAME test_probes
             COMMAND ${CMAKE_COMMAND} -DREADELF=${WEFT_READELF} -DLIB=$<TARGET_FILE:weft>
                     -P ${CMAKE_CURRENT_LIST_FILE})
    set_tests_properties(test_probes PROPERTIES TIMEOUT 60)
  endif()
endif()
