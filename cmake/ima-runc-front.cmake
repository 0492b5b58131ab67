# ima-runc's front end (include/imashim/runtime/front_core.hpp): every runc
# command an engine issues goes through it, so it is built to start at no
# cost. main.cpp links no C library: its own entry point and system calls
# (x86_64, aarch64), no allocation, no exceptions, static and not
# position-independent, so the kernel maps it and runs it with nothing to
# relocate. On this kind of machine a C library's start-up alone costs about
# 0.3 ms (mostly its CPUID probes, each a VM exit): `perf stat` of a static
# C program that only execs /bin/true against one that has no C library.
# The decision itself is front_core.cpp, also built into the library, where
# the tests call it, and into the C library build of the front end
# (hosted.cpp) that builds with sanitizers and other architectures use.
set(IMASHIM_FRONT_HOSTED_DEFAULT OFF)
if(IMASHIM_SANITIZE OR IMASHIM_FUZZ OR NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|aarch64|arm64)$")
  set(IMASHIM_FRONT_HOSTED_DEFAULT ON)
endif()
option(IMASHIM_FRONT_HOSTED "build ima-runc's front end with the C library" ${IMASHIM_FRONT_HOSTED_DEFAULT})
if(IMASHIM_FRONT_HOSTED)
  add_executable(ima-runc ${PROJECT_SOURCE_DIR}/shim/cli/ima-runc/hosted.cpp)
  target_compile_options(ima-runc PRIVATE ${IMASHIM_WARNINGS})
  target_link_libraries(ima-runc PRIVATE imashim)
else()
  add_executable(ima-runc ${PROJECT_SOURCE_DIR}/shim/cli/ima-runc/main.cpp
    ${PROJECT_SOURCE_DIR}/shim/runtime/front_core.cpp)
  target_include_directories(ima-runc PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(ima-runc PRIVATE ${IMASHIM_WARNINGS} -O2 -ffreestanding -fno-exceptions -fno-rtti
    -fno-stack-protector -fno-pie -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns
    -fcf-protection=none)
  target_link_options(ima-runc PRIVATE -nostdlib -static -no-pie -Wl,--build-id=none)
endif()
install(TARGETS ima-runc RUNTIME DESTINATION bin)
