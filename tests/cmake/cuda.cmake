# The CUDA kernel tests: skipped (exit 77) on machines without a GPU or on
# builds without CUDA.
if(TARGET test-cuda)
  set_tests_properties(test-cuda PROPERTIES SKIP_RETURN_CODE 77)
endif()
