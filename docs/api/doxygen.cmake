# Builds the API reference; run by the weft_doc target and the api_reference
# test: cmake -DDOXYGEN=... -DDOXYFILE=... -DHEADERS=<include/weft> -P doxygen.cmake
#
# Doxygen reports the undocumented members of a documented file only: a
# header without a /** @file */ block would have its undocumented functions
# skipped in silence. So every public header must have one, checked first.
file(GLOB headers "${HEADERS}/*.h")
set(missing "")
foreach(h IN LISTS headers)
  file(READ "${h}" text)
  if(NOT text MATCHES "/\\*\\*[ \t\r\n*]*@file")
    list(APPEND missing "${h}")
  endif()
endforeach()
if(missing)
  list(JOIN missing "\n  " missing)
  message(FATAL_ERROR "API reference: no /** @file ... */ block in\n  ${missing}\n"
                      "(see docs/api/Doxyfile.in for how to document a header)")
endif()

execute_process(COMMAND "${DOXYGEN}" "${DOXYFILE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "API reference: Doxygen reported the warnings above "
                      "(every public item must be documented: see docs/api/Doxyfile.in)")
endif()
