# The API reference: `cmake --build build --target docs` runs Doxygen (Debian's doxygen) over the
# public headers into build/docs/html; warnings go to build/docs/warnings.log, which
# scripts/docs.sh checks.
find_program(EDGETRAIN_DOXYGEN doxygen)
if(NOT EDGETRAIN_DOXYGEN)
  return()
endif()
set(EDGETRAIN_DOCS_OUT ${PROJECT_BINARY_DIR}/docs)
configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
add_custom_target(docs
  COMMAND ${CMAKE_COMMAND} -E make_directory ${EDGETRAIN_DOCS_OUT}
  COMMAND ${EDGETRAIN_DOXYGEN} ${PROJECT_BINARY_DIR}/Doxyfile
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "API reference (Doxygen) into ${EDGETRAIN_DOCS_OUT}/html"
  VERBATIM)
