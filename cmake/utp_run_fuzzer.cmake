# cmake/utp_run_fuzzer.cmake — the CTest command of a utp_add_fuzzer() target:
#   cmake -DFUZZER=<exe> -DSCRATCH=<dir> -DARGS=<a;b> [-DCORPUS=<dir>] -P <this>
# Starts from an empty scratch corpus every time (so a run is reproducible and the
# committed seed corpus is only read), then runs the fuzzer and fails if it fails.
cmake_policy(VERSION 3.20)

if(NOT FUZZER OR NOT SCRATCH)
    message(FATAL_ERROR "usage: cmake -DFUZZER=<exe> -DSCRATCH=<dir> [-DARGS=..] [-DCORPUS=<dir>] -P ...")
endif()
string(REPLACE "," ";" args "${ARGS}")
file(REMOVE_RECURSE "${SCRATCH}")
file(MAKE_DIRECTORY "${SCRATCH}")
get_filename_component(artifacts "${SCRATCH}" DIRECTORY)
set(dirs "${SCRATCH}")
if(CORPUS)
    list(APPEND dirs "${CORPUS}")
endif()
execute_process(COMMAND "${FUZZER}" ${args} "-artifact_prefix=${artifacts}/" ${dirs}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${FUZZER} failed (${rc}); a reproducer, if any, is in ${artifacts}/")
endif()
