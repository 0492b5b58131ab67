# imashim_populate_image(TARGET): TARGET, a static-pie program on every
# container's create or delete, starts at shim/cli/start/populate_image.cpp's entry,
# which maps its image (one madvise per loadable segment) before the C library relocates it
# (why, and the figures: that file). x86_64 only; other architectures keep the
# C library's entry.
set(IMASHIM_POPULATE_IMAGE_SOURCE ${PROJECT_SOURCE_DIR}/shim/cli/start/populate_image.cpp)
# It runs before TLS is set up: no stack protector (its canary lives in TLS).
set_source_files_properties(${IMASHIM_POPULATE_IMAGE_SOURCE} PROPERTIES COMPILE_OPTIONS "-fno-stack-protector")
function(imashim_populate_image target)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)$")
    target_sources(${target} PRIVATE ${IMASHIM_POPULATE_IMAGE_SOURCE})
    target_link_options(${target} PRIVATE -Wl,-e,imashim_entry)
  endif()
endfunction()
