include(CMakePackageConfigHelpers)
install(TARGETS scvae EXPORT scvaeTargets)
install(DIRECTORY include/scvae DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT scvaeTargets NAMESPACE scvae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/scvae)
set(SCVAE_EXPORT_CUDA OFF)
if(TARGET scvae_cuda)
  set(SCVAE_EXPORT_CUDA ON)
endif()
configure_package_config_file(cmake/scvaeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/scvaeConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/scvae)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/scvaeConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/scvaeConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/scvaeConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/scvae)
