# The C API's tests: tests/capi/test_capi.c compiled as C against libedgetrain_c.so, and the Python
# binding (python/edgetrain.py) run by Debian's /usr/bin/python3 with python3-numpy. Both build as
# part of edgetrain_tests, so scripts/sanitize.sh, which builds that target, runs them too.
if(NOT EDGETRAIN_BUILD_TESTS)
  return()
endif()
enable_language(C)

add_executable(edgetrain_capi_test ${PROJECT_SOURCE_DIR}/tests/capi/test_capi.c)
set_target_properties(edgetrain_capi_test PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON
                                                     C_EXTENSIONS OFF)
target_compile_options(edgetrain_capi_test PRIVATE -Wpedantic)
target_link_libraries(edgetrain_capi_test PRIVATE edgetrain_c)
target_compile_definitions(edgetrain_capi_test PRIVATE
                           EDGETRAIN_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
add_dependencies(edgetrain_tests edgetrain_capi_test edgetrain_c)
add_test(NAME CApi.FromC COMMAND edgetrain_capi_test)
set_tests_properties(CApi.FromC PROPERTIES TIMEOUT 300)

set(EDGETRAIN_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with numpy for the binding's test")
add_test(NAME CApi.FromPython
         COMMAND ${EDGETRAIN_PYTHON} -m unittest -v test_python_binding
         WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}/tests/capi)
set(python_environment
    "EDGETRAIN_LIBRARY=$<TARGET_FILE:edgetrain_c>"
    "PYTHONPATH=${PROJECT_SOURCE_DIR}/python"
    "EDGETRAIN_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
# Under AddressSanitizer the library needs the sanitizer runtimes loaded before Python itself; the
# interpreter's own allocations are not ours to leak-check (the C test checks the library's).
if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=[^ ]*address")
  set(preload "")
  foreach(runtime libasan.so libubsan.so)
    execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=${runtime}
                    OUTPUT_VARIABLE path OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(runtime STREQUAL "libasan.so" OR CMAKE_CXX_FLAGS MATCHES "-fsanitize=[^ ]*undefined")
      list(APPEND preload ${path})
    endif()
  endforeach()
  list(JOIN preload ":" preload)
  list(APPEND python_environment "LD_PRELOAD=${preload}" "ASAN_OPTIONS=detect_leaks=0")
endif()
set_tests_properties(CApi.FromPython PROPERTIES ENVIRONMENT "${python_environment}" TIMEOUT 300)
