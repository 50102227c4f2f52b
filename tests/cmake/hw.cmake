# The hardware tests: a fake libnvidia-ml built here so the real dlopen path
# of src/hw/gpu-nvml.c runs without a GPU (tests/fake-nvml/fake-nvml.c), and
# its path handed to the hw tests.
add_library(fake-nvml SHARED ${CMAKE_CURRENT_SOURCE_DIR}/fake-nvml/fake-nvml.c)
set_target_properties(fake-nvml PROPERTIES OUTPUT_NAME fake-nvml)
foreach(t test-hw test-hw-nvml test-hw-json test-hw-cli)
  if(TARGET ${t})
    add_dependencies(${t} fake-nvml)
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT "TAILOR_FAKE_NVML=$<TARGET_FILE:fake-nvml>")
  endif()
endforeach()
