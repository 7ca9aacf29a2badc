# kiemidi_add_suite_tests(<target> PREFIX <p> LABELS <l>... TIMEOUT <s> [PER_CASE] [ENVIRONMENT <e>...])
#
# Registers one ctest test per top-level Boost.Test suite of <target> (`<p>.<suite>`, run with
# --run_test=<suite>), so `ctest -j` spreads a binary's suites over the cores, `ctest -R` picks one
# and a failure names its suite (and Boost.Test's output the case). The suites are read from the
# target's sources at configure time: a new BOOST_AUTO_TEST_SUITE / BOOST_FIXTURE_TEST_SUITE shows up
# by itself. A suite holding a case labelled "multithreaded" also gets that ctest label.
# A test case outside any suite would be run by no entry, so it stops the configuration.
#
# PER_CASE registers one test per test case instead (`<p>.<suite>/<case>`, --run_test=<suite>/<case>;
# a case gets the labels given to it and those given to its suite). The integration cases mostly wait (on
# timers, child processes, sockets), so a suite of slow cases run as one process would set the
# length of the whole run; one process per case lets `ctest -j` overlap those waits.
# A case labelled "slow" (one that waits out tens of seconds of real time, such as a maintenance
# window) gets the ctest label `slow` and a high COST, so ctest starts it first even on a fresh
# build tree that has no timings yet, and the short cases fill the cores around it.
function(kiemidi_add_suite_tests target)
    cmake_parse_arguments(ARG "PER_CASE" "PREFIX;TIMEOUT" "LABELS;ENVIRONMENT" ${ARGN})
    get_target_property(sources ${target} SOURCES)
    get_target_property(source_dir ${target} SOURCE_DIR)
    set(suites "")
    set(cases "")
    foreach(src IN LISTS sources)
        if(NOT src MATCHES "\\.cpp$")
            continue()
        endif()
        if(NOT IS_ABSOLUTE "${src}")
            set(src "${source_dir}/${src}")
        endif()
        file(READ "${src}" text)
        set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${src}")
        # In source order: suite starts, suite ends, test cases and the multithreaded and slow labels.
        string(REGEX MATCHALL
            "BOOST_(AUTO|FIXTURE)_TEST_SUITE\\([ \t\r\n]*[A-Za-z_][A-Za-z0-9_]*|BOOST_AUTO_TEST_SUITE_END\\(|BOOST_(AUTO|FIXTURE|DATA)_TEST_CASE(_TEMPLATE)?\\([ \t\r\n]*[A-Za-z_][A-Za-z0-9_]*|label\\(\"(multithreaded|slow)\"\\)"
            tokens "${text}")
        set(depth 0)
        set(current "")
        foreach(tok IN LISTS tokens)
            if(tok MATCHES "^BOOST_AUTO_TEST_SUITE_END")
                math(EXPR depth "${depth} - 1")
            elseif(tok MATCHES "^BOOST_(AUTO|FIXTURE)_TEST_SUITE\\([ \t\r\n]*([A-Za-z_][A-Za-z0-9_]*)")
                if(depth EQUAL 0)
                    set(current "${CMAKE_MATCH_2}")
                    if(NOT current IN_LIST suites)
                        list(APPEND suites "${current}")
                    endif()
                    # A label before the suite's first case is the suite's: every case of it gets it.
                    set(case "")
                else()
                    # A nested suite runs with its whole top-level suite: its labels go to that entry.
                    set(case "<nested>")
                endif()
                math(EXPR depth "${depth} + 1")
            elseif(tok MATCHES "^label\\(\"([a-z]+)")
                if(depth GREATER 0)
                    set(${CMAKE_MATCH_1}_${current} ON)
                    if(case STREQUAL "")
                        set(${CMAKE_MATCH_1}_suite_${current} ON)
                    else()
                        set(${CMAKE_MATCH_1}_${current}/${case} ON)
                    endif()
                endif()
            elseif(depth EQUAL 0)
                message(FATAL_ERROR "kiemidi: ${src} has a test case outside any BOOST_AUTO_TEST_SUITE; "
                                    "ctest registers one test per suite, so it would never run")
            elseif(tok MATCHES "_TEST_CASE(_TEMPLATE)?\\([ \t\r\n]*([A-Za-z_][A-Za-z0-9_]*)")
                set(case "${CMAKE_MATCH_2}")
                if(depth EQUAL 1)
                    list(APPEND cases "${current}/${case}")
                elseif(NOT "${current}" IN_LIST cases)
                    # A case of a nested suite runs with its whole top-level suite.
                    list(APPEND cases "${current}")
                endif()
            endif()
        endforeach()
    endforeach()
    if(NOT suites)
        message(FATAL_ERROR "kiemidi: no Boost.Test suite found in ${target}'s sources")
    endif()
    if(ARG_PER_CASE)
        set(suites ${cases})
    endif()
    foreach(suite IN LISTS suites)
        set(name "${ARG_PREFIX}.${suite}")
        # A case's entry also carries its suite's own labels.
        string(REGEX REPLACE "/.*" "" top "${suite}")
        foreach(label IN ITEMS multithreaded slow)
            if(${label}_suite_${top})
                set(${label}_${suite} ON)
            endif()
        endforeach()
        add_test(NAME ${name} COMMAND ${target} --run_test=${suite} --report_level=short)
        set(labels ${ARG_LABELS})
        if(multithreaded_${suite})
            list(APPEND labels multithreaded)
        endif()
        if(slow_${suite})
            list(APPEND labels slow)
            set_tests_properties(${name} PROPERTIES COST 1000)
        endif()
        set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT ${ARG_TIMEOUT})
        if(ARG_ENVIRONMENT)
            set_tests_properties(${name} PROPERTIES ENVIRONMENT "${ARG_ENVIRONMENT}")
        endif()
    endforeach()
endfunction()
