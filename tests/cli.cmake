# End-to-end tests of the `scvae` program: tests/test_cli.cpp runs the built binary, whose path
# it gets as SCVAE_CLI_PATH. tests/ is configured before examples/, so the condition mirrors
# examples/cli.cmake's (generator expressions and add_dependencies accept a later target).
if(TARGET test_cli)
  find_package(CLI11 CONFIG QUIET)
  if(SCVAE_BUILD_EXAMPLES AND TARGET scvae::io AND TARGET CLI11::CLI11)
    add_dependencies(test_cli scvae_cli)
    target_link_libraries(test_cli PRIVATE scvae::io)  # writes an .h5ad input (reader flags)
    target_compile_definitions(test_cli PRIVATE SCVAE_CLI_PATH="$<TARGET_FILE:scvae_cli>")
    set_tests_properties(test_cli PROPERTIES TIMEOUT 300)
    if(TARGET scvae::cuda)  # the program is built with --device cuda (examples/cli.cmake)
      target_compile_definitions(test_cli PRIVATE SCVAE_CLI_HAS_CUDA)
    endif()
  else()
    # No scvae program to run (examples off, or CLI11 / scvae::io missing).
    set_target_properties(test_cli PROPERTIES EXCLUDE_FROM_ALL TRUE)
    set_tests_properties(test_cli PROPERTIES DISABLED TRUE)
  endif()
endif()
