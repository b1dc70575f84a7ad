# Third-party dependencies, all from Debian 12 packages (scripts/install_deps.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium>=1.0.18)
# libcrypto only: the Noise transport's ChaCha20-Poly1305 (3x libsodium 1.0.18 on AVX-512 machines).
find_package(OpenSSL 3.0 REQUIRED COMPONENTS Crypto)
find_package(Protobuf 3.21 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)

# Standalone asio (libasio-dev) is header-only.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(hm_asio INTERFACE)
target_include_directories(hm_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
target_compile_definitions(hm_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
target_link_libraries(hm_asio INTERFACE Threads::Threads)

if(HM_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(HM_BUILD_BENCHMARKS)
  find_package(benchmark QUIET)
endif()
