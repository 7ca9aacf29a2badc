# Debian packages: `cpack -G DEB` in a shared build (BUILD_SHARED_LIBS=ON; scripts/package.sh).
#   libkiemidiMAJOR  the shared libraries (component runtime)
#   libkiemidi-dev   headers, the libraries' link names, the CMake and pkg-config packages (dev)
#   kiemidi          the kiemidi and kiemidi-emulator executables (tools)
# The runtime and tools packages' Depends come from the libraries they link (dpkg-shlibdeps, from
# Debian's dpkg-dev); the -dev package depends on the -dev packages whose headers kiemidi's include.
set(CPACK_PACKAGE_NAME kiemidi)
set(CPACK_PACKAGE_VENDOR kiemidi)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(KIEMIDI_PACKAGE_CONTACT "kiemidi developers <kiemidi@localhost>" CACHE STRING
    "The Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${KIEMIDI_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The tools link the runtime package's libraries, which are not installed while packaging.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/src ${PROJECT_BINARY_DIR}/src/emulator)
if(BUILD_SHARED_LIBS)
    set(CPACK_COMPONENTS_ALL runtime dev tools)
else()
    set(CPACK_COMPONENTS_ALL dev tools)  # a static kiemidi has no runtime package
endif()

set(kiemidi_runtime_package libkiemidi${PROJECT_VERSION_MAJOR})
set(kiemidi_exact "(= ${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE})")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${kiemidi_runtime_package})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "${PROJECT_DESCRIPTION} (shared libraries)")
# A shlibs file, so that packages built against libkiemidi depend on this package.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(boost_dev libboost${Boost_VERSION_MAJOR}.${Boost_VERSION_MINOR})
set(kiemidi_dev_depends "${boost_dev}-dev, libboost-json${Boost_VERSION_MAJOR}.${Boost_VERSION_MINOR}-dev, libboost-url${Boost_VERSION_MAJOR}.${Boost_VERSION_MINOR}-dev, libssl-dev, libsqlite3-dev")
if(KIEMIDI_WITH_REDIS)
    string(APPEND kiemidi_dev_depends ", libhiredis-dev, pkg-config")
endif()
if(BUILD_SHARED_LIBS)
    set(kiemidi_dev_depends "${kiemidi_runtime_package} ${kiemidi_exact}, ${kiemidi_dev_depends}")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libkiemidi-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${kiemidi_dev_depends}")
set(CPACK_DEBIAN_DEV_DESCRIPTION "${PROJECT_DESCRIPTION} (development files)")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME kiemidi)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "songs to MIDI through KIE.AI from the command line, and a local KIE emulator")
if(BUILD_SHARED_LIBS)
    # dpkg-shlibdeps adds the other libraries; this one it finds outside any installed package.
    set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${kiemidi_runtime_package} ${kiemidi_exact}")
endif()

include(CPack)
