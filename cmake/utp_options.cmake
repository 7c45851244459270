# cmake/utp_options.cmake — the project's options and the compile settings shared by
# every target (language standard, warnings).

# PROJECT_IS_TOP_LEVEL needs CMake 3.21; compute it so 3.20 works too.
if(CMAKE_CURRENT_SOURCE_DIR STREQUAL CMAKE_SOURCE_DIR)
    set(UTP_IS_TOP_LEVEL ON)
else()
    set(UTP_IS_TOP_LEVEL OFF)
endif()

option(UTP_BUILD_TESTS "Build the tests (test/: unit, sim, ...) and register them with CTest"
       ${UTP_IS_TOP_LEVEL})
option(UTP_BUILD_EXAMPLES "Build the examples (example/)" ${UTP_IS_TOP_LEVEL})
option(UTP_BUILD_BENCH "Build the benchmark programs (test/bench/; needs UTP_BUILD_TESTS)"
       ${UTP_IS_TOP_LEVEL})
option(UTP_BUILD_FUZZERS
       "Build the libFuzzer targets (test/fuzz/; needs clang and UTP_BUILD_TESTS)" OFF)
option(UTP_INTEROP_TESTS
       "Register the interop tests (test/interop/: needs python3-libtorrent, transmission-daemon)"
       ${UTP_IS_TOP_LEVEL})
option(UTP_WITH_TLS "The utp::ssl target and the TLS tests and examples (needs OpenSSL)" ON)
set(UTP_SANITIZE "" CACHE STRING
    "Sanitizers applied to every target, as for -fsanitize= (e.g. address,undefined)")

if(UTP_BUILD_FUZZERS AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(WARNING "UTP_BUILD_FUZZERS needs clang (libFuzzer); "
                    "${CMAKE_CXX_COMPILER_ID} found: fuzzers disabled. "
                    "Configure a separate build directory with CXX=clang++.")
    set(UTP_BUILD_FUZZERS OFF CACHE BOOL "" FORCE)
endif()

# C++20, no compiler extensions; a parent project may have chosen a later standard.
if(NOT DEFINED CMAKE_CXX_STANDARD)
    set(CMAKE_CXX_STANDARD 20)
endif()
set(CMAKE_CXX_STANDARD_REQUIRED ON)
if(NOT DEFINED CMAKE_CXX_EXTENSIONS)
    set(CMAKE_CXX_EXTENSIONS OFF)
endif()

if(UTP_IS_TOP_LEVEL AND NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
    message(STATUS "utp: no CMAKE_BUILD_TYPE given, using Release")
endif()

# utp_set_warnings(<target>)
#   The project's warning flags, PRIVATE to <target> (never exported to consumers).
#   Call it on every target of this project: library, tests, examples, benches.
function(utp_set_warnings target)
    if(MSVC)
        target_compile_options(${target} PRIVATE /W4 /permissive-)
    elseif(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    endif()
endfunction()
