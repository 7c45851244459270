# cmake/utp_check_split.cmake — run as `cmake -DEXE=<test exe> -DSUITES=a,b,c -P <this>`.
#
# Fails if the Boost.Test executable holds a top-level test suite or case that is not in
# SUITES, i.e. one that no `--run_test=<suite>` CTest entry registered by
# utp_add_boost_test(... SPLIT ...) would ever run. Also fails if a listed suite is gone.

cmake_policy(VERSION 3.20)

if(NOT EXE OR NOT DEFINED SUITES)
    message(FATAL_ERROR "usage: cmake -DEXE=<test exe> -DSUITES=a,b -P utp_check_split.cmake")
endif()
string(REPLACE "," ";" expected "${SUITES}")

execute_process(COMMAND "${EXE}" --list_content
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} --list_content failed (${rc}):\n${out}${err}")
endif()

# Top-level units are the lines without indentation: "name*" (enabled) or "name".
string(REPLACE "\n" ";" lines "${out}${err}")
set(found "")
foreach(line IN LISTS lines)
    if(line MATCHES "^([A-Za-z0-9_]+)\\*?[ \t]*$")
        list(APPEND found "${CMAKE_MATCH_1}")
    endif()
endforeach()

set(bad OFF)
foreach(unit IN LISTS found)
    if(NOT unit IN_LIST expected)
        message(SEND_ERROR "top-level test unit '${unit}' is not in SPLIT: no CTest entry runs it")
        set(bad ON)
    endif()
endforeach()
foreach(suite IN LISTS expected)
    if(NOT suite IN_LIST found)
        message(SEND_ERROR "SPLIT lists '${suite}', which the executable does not have")
        set(bad ON)
    endif()
endforeach()
if(bad)
    message(FATAL_ERROR "SPLIT of ${EXE} does not match its test tree:\n${out}${err}")
endif()
list(LENGTH found n)
message(STATUS "${n} top-level test units, all registered")
