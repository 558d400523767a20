# Data tests (tests/test_data_*.cpp) need the readers' system libraries.
foreach(_t test_data_mtx test_data_h5 test_data_tables test_data_prepare test_data_pbmc)
  if(TARGET ${_t})
    target_link_libraries(${_t} PRIVATE scvae::io)
  endif()
endforeach()
