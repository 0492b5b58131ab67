# ima-monitor, the fanotify backend's per-container process, is exec'd by every
# create in measure, log and enforce mode, and its start is on the path of
# create: built from only the sources it needs and linked statically (OpenSSL,
# libseccomp, libcap, libaudit from their Debian -dev packages' archives), so
# that it starts without the dynamic loader's work on a dozen shared libraries.
# fmt is used header-only (Debian ships no static libfmt). static-pie rather
# than -static: with -static, crtbeginT registers the unwind tables and the
# first thrown exception sorts all of them (measured 4 ms of CPU). The linker's
# warnings about getpwnam, dlopen and getaddrinfo name code of libaudit,
# libcap-ng and OpenSSL the monitor does not call.
# `perf stat -r 100 ima-monitor --help`: 2.8 ms of CPU dynamic, 1.2 ms static-pie.
file(GLOB IMASHIM_MONITOR_SOURCES CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/shim/cli/ima-monitor/*.cpp
  ${PROJECT_SOURCE_DIR}/shim/backends/fanotify/*.cpp
  ${PROJECT_SOURCE_DIR}/shim/formats/*.cpp
  ${PROJECT_SOURCE_DIR}/shim/policy/*.cpp
  ${PROJECT_SOURCE_DIR}/shim/util/*.cpp
  ${PROJECT_SOURCE_DIR}/shim/os/*.cpp)
list(APPEND IMASHIM_MONITOR_SOURCES ${PROJECT_SOURCE_DIR}/shim/backends/backend.cpp
  ${PROJECT_SOURCE_DIR}/shim/label/manifest.cpp)
add_executable(ima-monitor ${IMASHIM_MONITOR_SOURCES})
target_include_directories(ima-monitor PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_options(ima-monitor PRIVATE ${IMASHIM_WARNINGS})
target_compile_definitions(ima-monitor PRIVATE FMT_HEADER_ONLY IMASHIM_VERSION="${PROJECT_VERSION}"
  IMASHIM_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(ima-monitor PRIVATE nlohmann_json::nlohmann_json CLI11::CLI11 Threads::Threads)
if(NOT IMASHIM_SANITIZE AND NOT IMASHIM_FUZZ)  # sanitizers need a dynamic link
  foreach(lib crypto seccomp cap audit cap-ng)
    find_library(IMASHIM_STATIC_${lib} NAMES lib${lib}.a REQUIRED)
    target_link_libraries(ima-monitor PRIVATE ${IMASHIM_STATIC_${lib}})
  endforeach()
  target_link_options(ima-monitor PRIVATE -static-pie)
else()
  target_link_libraries(ima-monitor PRIVATE OpenSSL::Crypto PkgConfig::SECCOMP PkgConfig::LIBCAP PkgConfig::LIBAUDIT)
endif()
install(TARGETS ima-monitor RUNTIME DESTINATION bin)
