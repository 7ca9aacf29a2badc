# cmake -DSOURCE=<file> -DREADME=<README.md> -P CheckReadmeSnippet.cmake
# Fails unless README contains, verbatim, the lines of SOURCE between "// README: begin" and
# "// README: end": the snippets README shows are the ones the examples compile and run.
file(READ "${SOURCE}" source)
file(READ "${README}" readme)
string(FIND "${source}" "// README: begin\n" begin)
string(FIND "${source}" "// README: end" end)
if(begin EQUAL -1 OR end EQUAL -1)
    message(FATAL_ERROR "${SOURCE}: no README markers")
endif()
math(EXPR begin "${begin} + 17")
math(EXPR length "${end} - ${begin}")
string(SUBSTRING "${source}" ${begin} ${length} snippet)
string(FIND "${readme}" "${snippet}" at)
if(at EQUAL -1)
    message(FATAL_ERROR "README.md does not show ${SOURCE}'s snippet as it is; copy the lines between its README markers")
endif()
