# cmake/utp_fuzz.cmake — libFuzzer targets (clang only). Included by test/CMakeLists.txt
# when UTP_BUILD_FUZZERS is ON; using it from test/fuzz/ is optional.

include_guard(GLOBAL)

set(_UTP_FUZZ_DIR "${CMAKE_CURRENT_LIST_DIR}")

# Sanitizers for the fuzzers: those of UTP_SANITIZE if set (already applied to
# everything), else address,undefined for the fuzzers and their copy of the library.
if(UTP_SANITIZE)
    set(_utp_fuzz_sanitize "")
else()
    set(_utp_fuzz_sanitize "address,undefined")
endif()

# utp_fuzz_lib: the library's sources again, with coverage instrumentation
# (-fsanitize=fuzzer-no-link) so libFuzzer sees the edges inside the core.
function(_utp_make_fuzz_lib)
    if(TARGET utp_fuzz_lib)
        return()
    endif()
    # The protocol core only: the fuzzers need no Asio.
    set(srcs ${UTP_PROTO_SOURCES})
    add_library(utp_fuzz_lib STATIC ${srcs})
    target_include_directories(utp_fuzz_lib PUBLIC "${utp_SOURCE_DIR}/include")
    target_compile_features(utp_fuzz_lib PUBLIC cxx_std_20)
    set(flags -fsanitize=fuzzer-no-link)
    if(_utp_fuzz_sanitize)
        list(APPEND flags -fsanitize=${_utp_fuzz_sanitize} -fno-omit-frame-pointer)
    endif()
    target_compile_options(utp_fuzz_lib PUBLIC ${flags})
    if(_utp_fuzz_sanitize)
        target_link_options(utp_fuzz_lib PUBLIC -fsanitize=${_utp_fuzz_sanitize})
    endif()
endfunction()

# utp_add_fuzzer(<target>
#     SOURCES <file>...          defines LLVMFuzzerTestOneInput (libFuzzer provides main)
#     [LIBRARIES <lib>...]       extra libraries (linked besides utp_fuzz_lib)
#     [CORPUS <dir>]             seed inputs (read only: new inputs go to the build tree)
#     [RUNS <n>]                 iterations of the CTest entry (default 100000)
#     [SECONDS <s>]              run for this long instead of a number of iterations
#     [TIMEOUT <seconds>])       CTest timeout (default 600)
#
# Builds <target> with -fsanitize=fuzzer against utp_fuzz_lib (an instrumented copy of
# the library) and registers the CTest entry <target>, label `fuzz`, which runs
# `<target> -runs=<n> -seed=1 -timeout=<TIMEOUT/10> <fresh scratch dir> [<corpus>]`
# (see utp_run_fuzzer.cmake); crash or timeout reproducers land in the build folder.
function(utp_add_fuzzer target)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "CORPUS;RUNS;SECONDS;TIMEOUT" "SOURCES;LIBRARIES")
    if(NOT arg_SOURCES)
        message(FATAL_ERROR "utp_add_fuzzer(${target}): SOURCES is required")
    endif()
    if(NOT arg_RUNS)
        set(arg_RUNS 100000)
    endif()
    if(NOT arg_TIMEOUT)
        set(arg_TIMEOUT 600)
    endif()
    _utp_make_fuzz_lib()
    add_executable(${target} ${arg_SOURCES})
    target_link_libraries(${target} PRIVATE utp_fuzz_lib ${arg_LIBRARIES})
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    utp_set_warnings(${target})

    set(corpus "")
    if(arg_CORPUS)
        get_filename_component(corpus "${arg_CORPUS}" ABSOLUTE
                               BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    endif()
    if(arg_SECONDS)
        set(budget "-max_total_time=${arg_SECONDS}")
    else()
        set(budget "-runs=${arg_RUNS}")
    endif()
    # A per-input time limit well inside the CTest timeout, so a hang is reported (with
    # a reproducer) instead of the whole entry being killed.
    math(EXPR per_input "${arg_TIMEOUT} / 10")
    if(per_input LESS 1)
        set(per_input 1)
    endif()
    add_test(NAME ${target}
             COMMAND ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:${target}>
                     "-DSCRATCH=${CMAKE_CURRENT_BINARY_DIR}/${target}_corpus"
                     "-DARGS=${budget},-seed=1,-timeout=${per_input},-print_final_stats=1"
                     "-DCORPUS=${corpus}"
                     -P "${_UTP_FUZZ_DIR}/utp_run_fuzzer.cmake")
    set_tests_properties(${target} PROPERTIES LABELS fuzz TIMEOUT ${arg_TIMEOUT})
endfunction()
