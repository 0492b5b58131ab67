# ima-runc-full, ima-runc's full implementation, is exec'd by every create and
# delete in measure, log and enforce mode. Linked statically (static-pie, as
# ima-monitor) it starts without loading eleven shared libraries: 2.3 ms less
# per exec measured. tpm2-tss comes as shared libraries only, so this build has
# no TPM (without_tpm.cpp); on a node with a `tpm` block it hands the command to
# ima-runc-tpm, the same program linked dynamically with the TPM stack.
add_executable(ima-runc-tpm ${PROJECT_SOURCE_DIR}/shim/cli/ima-runc-full/main.cpp)
target_compile_options(ima-runc-tpm PRIVATE ${IMASHIM_WARNINGS})
target_link_libraries(ima-runc-tpm PRIVATE imashim)
install(TARGETS ima-runc-tpm RUNTIME DESTINATION bin)

add_executable(ima-runc-full ${PROJECT_SOURCE_DIR}/shim/cli/ima-runc-full/main.cpp
  ${PROJECT_SOURCE_DIR}/shim/cli/ima-runc-full/without_tpm.cpp)
target_compile_options(ima-runc-full PRIVATE ${IMASHIM_WARNINGS})
target_compile_definitions(ima-runc-full PRIVATE IMASHIM_WITHOUT_TPM)
if(NOT IMASHIM_SANITIZE AND NOT IMASHIM_FUZZ)  # sanitizers need a dynamic link
  target_include_directories(ima-runc-full PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(ima-runc-full PRIVATE IMASHIM_VERSION="${PROJECT_VERSION}")
  # The library's archive, not its target: the target would bring the shared libraries it links.
  target_link_libraries(ima-runc-full PRIVATE $<TARGET_FILE:imashim> nlohmann_json::nlohmann_json
    fmt::fmt-header-only Threads::Threads)
  add_dependencies(ima-runc-full imashim)
  find_library(IMASHIM_STATIC_crypto NAMES libcrypto.a REQUIRED)
  target_link_libraries(ima-runc-full PRIVATE ${IMASHIM_STATIC_crypto})
  target_link_options(ima-runc-full PRIVATE -static-pie)
  imashim_populate_image(ima-runc-full)
else()
  target_link_libraries(ima-runc-full PRIVATE imashim)
endif()
install(TARGETS ima-runc-full RUNTIME DESTINATION bin)
