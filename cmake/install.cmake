# Install rules (cmake --install), the find_package(edgetrain) package, the pkg-config files and the
# .deb (cpack -G DEB). Included from the top CMakeLists.txt when EDGETRAIN_INSTALL is on.
include(CMakePackageConfigHelpers)

set(EDGETRAIN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/edgetrain CACHE STRING
    "Where edgetrainConfig.cmake goes, below the prefix")
set(EDGETRAIN_INSTALL_PYTHONDIR lib/python3/dist-packages CACHE STRING
    "Where the Python module edgetrain.py goes, below the prefix")

# The libraries and the public headers (version.h is generated into the build tree).
set_target_properties(edgetrain_c PROPERTIES EXPORT_NAME edgetrain_c)
install(TARGETS edgetrain edgetrain_c EXPORT edgetrainTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/edgetrain DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${EDGETRAIN_GENERATED_INCLUDE}/edgetrain/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/edgetrain)
if(EDGETRAIN_BUILD_CLI)
  install(TARGETS edgetrain_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# find_package(edgetrain): the targets edgetrain::edgetrain and edgetrain::edgetrain_c.
install(EXPORT edgetrainTargets NAMESPACE edgetrain:: DESTINATION ${EDGETRAIN_INSTALL_CMAKEDIR})
set(EDGETRAIN_CONFIG_SHARED ${EDGETRAIN_SHARED})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/edgetrainConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/edgetrainConfig.cmake
                              INSTALL_DESTINATION ${EDGETRAIN_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/edgetrainConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)  # 0.x: minor versions may break
install(FILES ${PROJECT_BINARY_DIR}/edgetrainConfig.cmake
              ${PROJECT_BINARY_DIR}/edgetrainConfigVersion.cmake
        DESTINATION ${EDGETRAIN_INSTALL_CMAKEDIR})

# pkg-config: edgetrain.pc (the C++ library; static linking: pkg-config --static) and
# edgetrain_c.pc (the C API's shared library). Written at install time, so `prefix` is the one
# installed into (cmake --install --prefix P, or /usr inside the .deb).
set(EDGETRAIN_PC_LIBS_PRIVATE "-lstdc++ -lm -pthread")
install(CODE "
  set(EDGETRAIN_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(EDGETRAIN_PC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(EDGETRAIN_PC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(EDGETRAIN_PC_VERSION \"${PROJECT_VERSION}\")
  set(EDGETRAIN_PC_DESCRIPTION \"${PROJECT_DESCRIPTION}\")
  set(EDGETRAIN_PC_LIBS_PRIVATE \"${EDGETRAIN_PC_LIBS_PRIVATE}\")
  foreach(name edgetrain edgetrain_c)
    configure_file(\"${PROJECT_SOURCE_DIR}/cmake/\${name}.pc.in\"
                   \"${PROJECT_BINARY_DIR}/pkgconfig/\${name}.pc\" @ONLY)
    file(INSTALL \"${PROJECT_BINARY_DIR}/pkgconfig/\${name}.pc\"
         DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  endforeach()
")

# The Python module over libedgetrain_c.so, told where the library is relative to itself.
file(RELATIVE_PATH EDGETRAIN_PYTHON_TO_LIBRARY
     /prefix/${EDGETRAIN_INSTALL_PYTHONDIR}
     /prefix/${CMAKE_INSTALL_LIBDIR}/libedgetrain_c.so.${PROJECT_VERSION_MAJOR})
configure_file(${PROJECT_SOURCE_DIR}/python/edgetrain.py ${PROJECT_BINARY_DIR}/python/edgetrain.py
               @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/python/edgetrain.py DESTINATION ${EDGETRAIN_INSTALL_PYTHONDIR})

# The .deb: cpack -G DEB --config build/CPackConfig.cmake. One package with the libraries, headers,
# CMake and pkg-config files, the CLI and the Python module. Its dependencies: the shared libraries
# its binaries link (dpkg-shlibdeps) and the -dev packages a program linking the static library
# needs.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edgetrain)
set(CPACK_PACKAGE_VENDOR edgetrain)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "edgetrain developers <dev@edgetrain.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)  # shlibs file and the ldconfig trigger
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libprotobuf-dev, zlib1g-dev, libpng-dev")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake, pkg-config, python3, python3-numpy")
include(CPack)
