# The compatibility test: the official openai npm package (pinned in
# tests/openai-compat/package.json) drives `tailor serve`. It needs node and
# tests/openai-compat/node_modules (scripts/install-deps.sh installs them when
# node and npm are present); without them the test is skipped (exit 77).
find_program(TAILOR_NODE node)
if(NOT TAILOR_NODE)
  set(TAILOR_NODE "")
endif()
set(compat ${CMAKE_CURRENT_SOURCE_DIR}/openai-compat)
add_test(NAME test-openai-compat
  COMMAND sh -c "if [ -z '${TAILOR_NODE}' ] || [ ! -d '${compat}/node_modules/openai' ]; then echo 'openai-compat: node or node_modules missing (scripts/install-deps.sh)'; exit 77; fi; cd '${compat}' && '${TAILOR_NODE}' compat.mjs")
set_tests_properties(test-openai-compat PROPERTIES ENVIRONMENT "${TAILOR_TEST_ENV}"
  SKIP_RETURN_CODE 77 TIMEOUT 300)
