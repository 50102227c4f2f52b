# The CUDA kernel tests: skipped (exit 77) on machines without a GPU or on
# builds without CUDA.
if(TARGET test-cuda)
  set_tests_properties(test-cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
# The fuzz targets link the library's objects directly, CUDA ones included,
# so they need the CUDA libraries too.
if(TAILOR_HAVE_CUDA)
  file(GLOB cuda_fuzz_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz-*.c)
  foreach(src ${cuda_fuzz_sources})
    get_filename_component(name ${src} NAME_WE)
    if(TARGET ${name})
      target_link_libraries(${name} PRIVATE ${TAILOR_CUDA_LIBS} stdc++)
      set_target_properties(${name} PROPERTIES LINKER_LANGUAGE C)
    endif()
  endforeach()
endif()
