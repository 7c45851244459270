# cmake/sanitizers.cmake — UTP_SANITIZE=<list> applies -fsanitize=<list> to everything.
#
# Include it before any target is created: the flags are added directory-wide, so the
# library, the tests, the examples and the benches are all instrumented alike (mixing
# instrumented and plain objects hides bugs, and ASan's container checks need it).
# Example: cmake -B build-asan -DUTP_SANITIZE=address,undefined

if(UTP_SANITIZE)
    if(MSVC)
        add_compile_options(/fsanitize=${UTP_SANITIZE})
    else()
        add_compile_options(-fsanitize=${UTP_SANITIZE} -fno-omit-frame-pointer
                            -fno-sanitize-recover=all)
        add_link_options(-fsanitize=${UTP_SANITIZE})
        if(UTP_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
            # Asio's std_fenced_block uses atomic_thread_fence, which TSan does not model;
            # GCC says so once per instantiation. A warning about Asio, not a finding.
            add_compile_options(-Wno-tsan)
        endif()
    endif()
    message(STATUS "utp: sanitizers enabled: ${UTP_SANITIZE}")
endif()
