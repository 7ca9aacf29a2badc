# kiemidi_precompile_headers(<target> [REUSE_FROM <other>] [ALSO <header>...])
#
# Most of a kiemidi translation unit's compile time is spent parsing the same Boost.Asio, Beast,
# JSON and standard headers again (coroutines, executors, HTTP messages, the JSON value). They are
# parsed once per target instead, as a precompiled header; the project's own headers stay out of it,
# so touching one of them rebuilds only the files that include it.
#
# Targets whose compile flags are another's share the header compiled for it (REUSE_FROM): the
# emulator and the apps reuse the library's, the test executables the one compiled for
# kiemidi_test_common, which adds Boost.Test (ALSO). KIEMIDI_PRECOMPILE_HEADERS=OFF turns it off, e.g.
# for a compiler whose precompiled headers misbehave; behaviour does not change either way.
option(KIEMIDI_PRECOMPILE_HEADERS "Precompile the Boost and standard headers shared by kiemidi's sources" ON)

set(KIEMIDI_PRECOMPILED_HEADERS
    # standard library
    <algorithm> <array> <atomic> <chrono> <cstddef> <cstdint> <filesystem> <functional> <map>
    <memory> <optional> <span> <string> <string_view> <system_error> <unordered_map> <utility>
    <variant> <vector>
    # Asio: executors, coroutines, timers, cancellation, TCP
    <boost/asio/any_completion_handler.hpp>
    <boost/asio/any_io_executor.hpp>
    <boost/asio/as_tuple.hpp>
    <boost/asio/awaitable.hpp>
    <boost/asio/bind_cancellation_slot.hpp>
    <boost/asio/cancellation_signal.hpp>
    <boost/asio/co_spawn.hpp>
    <boost/asio/detached.hpp>
    <boost/asio/experimental/awaitable_operators.hpp>
    <boost/asio/io_context.hpp>
    <boost/asio/ip/tcp.hpp>
    <boost/asio/post.hpp>
    <boost/asio/steady_timer.hpp>
    <boost/asio/strand.hpp>
    <boost/asio/this_coro.hpp>
    <boost/asio/use_awaitable.hpp>
    # Beast's HTTP messages and streams, and the JSON value
    <boost/beast/core/flat_buffer.hpp>
    <boost/beast/core/tcp_stream.hpp>
    <boost/beast/http/message.hpp>
    <boost/beast/http/string_body.hpp>
    <boost/json/value.hpp>
    <boost/json/parse.hpp>
    <boost/json/serialize.hpp>
    <boost/system/error_code.hpp>
)

# A precompiled header that GCC cannot use (a target whose flags differ from those it was compiled
# with) would fall back to parsing; CMake passes -Winvalid-pch, so the warnings-as-errors builds
# fail instead of silently getting slower.
# g++ 12 reports some of std::string's own inlined copies as overflows (-Wstringop-overflow), a known false positive.
# Parsed from the standard headers those reports are dropped as a system header's; taken from a
# precompiled header they reach the user's file and fail the warnings-as-errors build.
if(KIEMIDI_PRECOMPILE_HEADERS AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    add_compile_options(-Wno-stringop-overflow)
endif()

function(kiemidi_precompile_headers target)
    cmake_parse_arguments(ARG "" "REUSE_FROM" "ALSO" ${ARGN})
    if(NOT KIEMIDI_PRECOMPILE_HEADERS)
        return()
    endif()
    if(ARG_REUSE_FROM)
        # A shared library is compiled position-independent (-fPIC), executables and static
        # libraries are not (-fPIE): GCC refuses a precompiled header compiled with the other
        # setting, so in a shared build only another shared library reuses one; the rest parse.
        get_target_property(own_type ${target} TYPE)
        get_target_property(from_type ${ARG_REUSE_FROM} TYPE)
        if(NOT own_type STREQUAL from_type AND (own_type STREQUAL "SHARED_LIBRARY" OR from_type STREQUAL "SHARED_LIBRARY"))
            return()
        endif()
        target_precompile_headers(${target} REUSE_FROM ${ARG_REUSE_FROM})
    else()
        target_precompile_headers(${target} PRIVATE ${KIEMIDI_PRECOMPILED_HEADERS} ${ARG_ALSO})
    endif()
endfunction()
