# Checks of the public C++ API as a user's compiler sees it (issue #15), run by CTest:
# - every public header compiles warning-free under -Wall -Wextra -Wpedantic -Werror, with GCC and,
#   when installed, Clang (tests/api/public_headers.cc);
# - binding a temporary model or data set to an UpdateTask does not compile, while the same call
#   on named objects does (tests/api/bind_temporary.cc).
if(NOT EDGETRAIN_BUILD_TESTS)
  return()
endif()

set(api_include -I${PROJECT_SOURCE_DIR}/include -I${EDGETRAIN_GENERATED_INCLUDE})
set(api_flags -std=c++20 -fsyntax-only -Wall -Wextra -Wpedantic -Werror)
set(api_sources ${PROJECT_SOURCE_DIR}/tests/api)

find_program(EDGETRAIN_CLANGXX NAMES clang++ clang++-14)
set(api_compilers "GCC=${CMAKE_CXX_COMPILER}")
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  find_program(EDGETRAIN_GXX NAMES g++ g++-12)
  set(api_compilers "GCC=${EDGETRAIN_GXX}" "Clang=${CMAKE_CXX_COMPILER}")
elseif(EDGETRAIN_CLANGXX)
  list(APPEND api_compilers "Clang=${EDGETRAIN_CLANGXX}")
endif()

foreach(entry IN LISTS api_compilers)
  string(REPLACE "=" ";" entry "${entry}")
  list(GET entry 0 name)
  list(GET entry 1 compiler)
  if(NOT compiler)
    continue()
  endif()
  add_test(NAME Api.PublicHeadersArePedanticClean.${name}
           COMMAND ${compiler} ${api_flags} ${api_include} ${api_sources}/public_headers.cc)
endforeach()

add_test(NAME Api.NamedModelAndDataBindToAnUpdateTask
         COMMAND ${CMAKE_CXX_COMPILER} ${api_flags} ${api_include} -DEDGETRAIN_BIND_LVALUES
                 ${api_sources}/bind_temporary.cc)
# The compiler's exit code is ignored: the test passes only when it names a deleted constructor.
add_test(NAME Api.TemporaryDataSetDoesNotBindToAnUpdateTask
         COMMAND ${CMAKE_CXX_COMPILER} ${api_flags} ${api_include} ${api_sources}/bind_temporary.cc)
add_test(NAME Api.TemporaryModelDoesNotBindToAnUpdateTask
         COMMAND ${CMAKE_CXX_COMPILER} ${api_flags} ${api_include} -DEDGETRAIN_TEMPORARY_MODEL
                 ${api_sources}/bind_temporary.cc)
set_tests_properties(Api.TemporaryDataSetDoesNotBindToAnUpdateTask
                     Api.TemporaryModelDoesNotBindToAnUpdateTask
                     PROPERTIES PASS_REGULAR_EXPRESSION "deleted")
