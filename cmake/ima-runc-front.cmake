# ima-runc's front end (include/imashim/runtime/front.hpp): built from only the
# sources its decision needs and linked statically, so that it starts without
# loading a shared library; pass-through commands and mode off cost little more
# than runc's own exec. fmt is used header-only; no OpenSSL (IMASHIM_FRONT_END in
# shim/runtime/config.cpp).
set(IMASHIM_FRONT_SOURCES
  shim/cli/ima-runc/main.cpp
  shim/runtime/front.cpp shim/runtime/runc_cli.cpp shim/runtime/config.cpp shim/runtime/runc.cpp
  shim/runtime/bundle.cpp shim/backends/backend.cpp shim/formats/hash.cpp shim/util/result.cpp
  shim/util/bytes.cpp)
list(TRANSFORM IMASHIM_FRONT_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/)
add_executable(ima-runc ${IMASHIM_FRONT_SOURCES})
target_include_directories(ima-runc PRIVATE ${PROJECT_SOURCE_DIR}/include)
target_compile_options(ima-runc PRIVATE ${IMASHIM_WARNINGS})
target_compile_definitions(ima-runc PRIVATE FMT_HEADER_ONLY IMASHIM_FRONT_END IMASHIM_VERSION="${PROJECT_VERSION}")
target_link_libraries(ima-runc PRIVATE nlohmann_json::nlohmann_json)
if(NOT IMASHIM_SANITIZE AND NOT IMASHIM_FUZZ)  # sanitizers need a dynamic link
  target_link_options(ima-runc PRIVATE -static)
endif()
install(TARGETS ima-runc RUNTIME DESTINATION bin)
