# demo_*_quick: run the demo in quick mode on one dataset, then check its JSON report.
execute_process(COMMAND ${DEMO} --dataset ${DATASET} --quick --json ${REPORT} RESULT_VARIABLE demo_status)
if(NOT demo_status EQUAL 0)
  message(FATAL_ERROR "memloc_ssl_demo --dataset ${DATASET} --quick exited with ${demo_status}")
endif()
execute_process(COMMAND ${PYTHON} ${CHECKER} ${REPORT} RESULT_VARIABLE check_status)
if(NOT check_status EQUAL 0)
  message(FATAL_ERROR "the quick report failed its checks (exit ${check_status})")
endif()
