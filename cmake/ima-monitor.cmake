# ima-monitor, the fanotify backend's per-container process, is exec'd by every
# create in measure, log and enforce mode, and its start is on the path of
# create: linked statically (OpenSSL, libseccomp, libcap, libaudit from their
# Debian -dev packages' archives), so that it starts without the dynamic
# loader's work on a dozen shared libraries. fmt is used header-only (Debian
# ships no static libfmt; CMakeLists.txt). static-pie rather than -static: with
# -static, crtbeginT registers the unwind tables and the first thrown exception
# sorts all of them (measured 4 ms of CPU). The linker's warnings about
# getpwnam, dlopen and getaddrinfo name code of libaudit, libcap-ng and OpenSSL
# the monitor does not call.
# `perf stat -r 100 ima-monitor --help`: 2.8 ms of CPU dynamic, 1.2 ms static-pie.
add_executable(ima-monitor ${PROJECT_SOURCE_DIR}/shim/cli/ima-monitor/main.cpp)
target_compile_options(ima-monitor PRIVATE ${IMASHIM_WARNINGS})
if(NOT IMASHIM_SANITIZE AND NOT IMASHIM_FUZZ)  # sanitizers need a dynamic link
  target_include_directories(ima-monitor PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(ima-monitor PRIVATE IMASHIM_VERSION="${PROJECT_VERSION}")
  # The library's archive, not its target: the target would bring the shared libraries it links.
  target_link_libraries(ima-monitor PRIVATE $<TARGET_FILE:imashim> nlohmann_json::nlohmann_json
    fmt::fmt-header-only CLI11::CLI11 Threads::Threads)
  add_dependencies(ima-monitor imashim)
  foreach(lib crypto seccomp cap audit cap-ng)
    find_library(IMASHIM_STATIC_${lib} NAMES lib${lib}.a REQUIRED)
    target_link_libraries(ima-monitor PRIVATE ${IMASHIM_STATIC_${lib}})
  endforeach()
  target_link_options(ima-monitor PRIVATE -static-pie)
  imashim_populate_image(ima-monitor)
else()
  target_link_libraries(ima-monitor PRIVATE imashim CLI11::CLI11)
endif()
install(TARGETS ima-monitor RUNTIME DESTINATION bin)
