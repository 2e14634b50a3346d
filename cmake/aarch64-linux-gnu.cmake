# Cross-compiling edgetrain for 64-bit Arm Linux (aarch64) on a Debian x86-64 host, with Debian's
# cross compiler (crossbuild-essential-arm64) and the target's libraries installed through multiarch
# (`dpkg --add-architecture arm64`, then e.g. libprotobuf-dev:arm64; see scripts/setup.sh). Multiarch
# puts them in /usr/lib/aarch64-linux-gnu beside the host's, so there is no separate sysroot: the
# cross compiler searches that folder by itself, and CMake is pointed at it below. Tests run through
# qemu-aarch64 (CMAKE_CROSSCOMPILING_EMULATOR). Used by scripts/test-arm64.sh:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Libraries and CMake package files of the target only (never the host's x86-64 ones, which sit
# in /usr/lib/x86_64-linux-gnu); headers under /usr/include are shared by both architectures.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # protoc and other tools run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config (FindCURL, FindOpenSSL) reads the target's .pc files, not the host's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

# The host's protoc generates the code the target's libprotobuf (same Debian version) compiles.
find_program(EDGETRAIN_HOST_PROTOC protoc REQUIRED)
set(Protobuf_PROTOC_EXECUTABLE ${EDGETRAIN_HOST_PROTOC} CACHE FILEPATH "host protoc")

find_program(EDGETRAIN_QEMU_AARCH64 qemu-aarch64)
if(EDGETRAIN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGETRAIN_QEMU_AARCH64})
endif()

# GCC 12's aarch64 -O3 inlining of std::string's operator+ trips a false -Wrestrict (GCC bug 105329,
# "memcpy accessing 9223372036854775810 or more bytes" in char_traits.h); x86-64 does not show it.
set(CMAKE_CXX_FLAGS_INIT "-Wno-restrict")
