# kiemidi_library_kind(<target>)
#
# What one of kiemidi's libraries (kiemidi, kiemidi_emulator) needs to be built static (the default)
# or shared (BUILD_SHARED_LIBS=ON): the shared one is lib<name>.so.MAJOR.MINOR.PATCH with the SONAME
# lib<name>.so.MAJOR, so that a new major version (and only it) may change the ABI, and it exports
# only what the headers mark KIEMIDI_DECL (hidden visibility: CMAKE_CXX_VISIBILITY_PRESET in the
# top CMakeLists.txt). KIEMIDI_SHARED tells kiemidi/config.hpp, and it is public so that the
# library's users see the same declarations.
function(kiemidi_library_kind target)
    set_target_properties(${target} PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
    # The same DEFINE_SYMBOL as kiemidi's (CMake's <target>_EXPORTS, which nothing reads): the
    # emulator reuses the library's precompiled header, which GCC refuses when a macro differs.
    set_target_properties(${target} PROPERTIES DEFINE_SYMBOL kiemidi_EXPORTS)
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "SHARED_LIBRARY")
        target_compile_definitions(${target} PUBLIC KIEMIDI_SHARED)
    endif()
endfunction()
