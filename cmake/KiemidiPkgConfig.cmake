# kiemidi.pc and kiemidi-emulator.pc: the library for builds without CMake
# (`pkg-config --cflags --libs kiemidi`). The compile definitions are the ones the CMake targets
# make public (src/CMakeLists.txt, cmake/KiemidiLibraryKind.cmake); Boost has no pkg-config files,
# so its compiled libraries are named directly. A static kiemidi needs `pkg-config --static`.
set(KIEMIDI_PC_CFLAGS " -DBOOST_ASIO_SEPARATE_COMPILATION -DBOOST_BEAST_SEPARATE_COMPILATION")
set(KIEMIDI_PC_REQUIRES_PRIVATE "")
if(KIEMIDI_WITH_REDIS)
    string(APPEND KIEMIDI_PC_CFLAGS " -DKIEMIDI_WITH_REDIS=1")
    string(APPEND KIEMIDI_PC_REQUIRES_PRIVATE " hiredis")
endif()
if(BUILD_SHARED_LIBS)
    string(APPEND KIEMIDI_PC_CFLAGS " -DKIEMIDI_SHARED")
endif()
configure_file(cmake/kiemidi.pc.in ${PROJECT_BINARY_DIR}/kiemidi.pc @ONLY)
configure_file(cmake/kiemidi-emulator.pc.in ${PROJECT_BINARY_DIR}/kiemidi-emulator.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/kiemidi.pc ${PROJECT_BINARY_DIR}/kiemidi-emulator.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
