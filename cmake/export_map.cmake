# Writes the version script of the shared libedgetrain: every symbol the library's objects define in
# namespace edgetrain (functions, data, typeinfo and vtables), except the internal namespaces below
# (edgetrain::ops, ...), plus the C API's edgetrain_* functions; everything else (kernels, the
# protobuf schema, template instances of std::) becomes local. Exact names, because GNU ld lets a
# global wildcard win over a local one, so "edgetrain::* but not edgetrain::ops::*" cannot be said
# with patterns.
# Usage: cmake -DNM=nm -DOBJECTS=list.txt -DOUTPUT=edgetrain.map -P export_map.cmake
cmake_minimum_required(VERSION 3.22)
# Internal namespaces (Itanium-mangled: <length><name>); a new one goes here.
set(internal_namespaces ops coreml cli detail data capi)

file(STRINGS ${OBJECTS} objects)
execute_process(COMMAND ${NM} --defined-only --extern-only ${objects}
                OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NM} failed on the library's objects")
endif()
# The same list demangled, line for line: a function of namespace edgetrain whose parameters are
# internal types (edgetrain::ops::..., the protobuf schema) is internal too, since no user can call it.
execute_process(COMMAND ${NM} --defined-only --extern-only --demangle ${objects}
                OUTPUT_VARIABLE demangled RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NM} --demangle failed on the library's objects")
endif()

set(internal "")
foreach(namespace IN LISTS internal_namespaces)
  string(LENGTH ${namespace} length)
  list(APPEND internal "${length}${namespace}")
endforeach()
list(JOIN internal "|" internal)
list(JOIN internal_namespaces "|" internal_namespaces_pattern)

# Semicolons in demangled names (none expected) would split list items: replace them first.
string(REPLACE ";" "," symbols "${symbols}")
string(REPLACE ";" "," demangled "${demangled}")
string(REPLACE "\n" ";" lines "${symbols}")
string(REPLACE "\n" ";" demangled_lines "${demangled}")
list(LENGTH lines line_count)
list(LENGTH demangled_lines demangled_count)
if(NOT line_count EQUAL demangled_count)
  message(FATAL_ERROR "nm listed ${line_count} symbols but ${demangled_count} demangled")
endif()
set(internal_types "::(${internal_namespaces_pattern})::|CoreML::|google::")
set(exported "")
set(index 0)
foreach(line IN LISTS lines)
  list(GET demangled_lines ${index} readable)
  math(EXPR index "${index} + 1")
  if(NOT line MATCHES "^[0-9a-f]+ [A-Za-z] ([^ ]+)$")
    continue()
  endif()
  set(name ${CMAKE_MATCH_1})
  if(readable MATCHES "${internal_types}")
    continue()
  endif()
  # _ZN9edgetrain... functions and data, _ZNK... const members, _ZT[ISV]N... typeinfo, its name and
  # vtables, _ZZN... a function's static locals and _ZGVZN... their guards.
  if(name MATCHES "^_Z(T[ISV]|Z|GVZ)?NK?9edgetrain([0-9]+[A-Za-z_]*)")
    set(component ${CMAKE_MATCH_2})
    if(NOT component MATCHES "^(${internal})$")
      list(APPEND exported ${name})
    endif()
  elseif(name MATCHES "^edgetrain_")
    list(APPEND exported ${name})
  endif()
endforeach()
list(REMOVE_DUPLICATES exported)
list(SORT exported)
list(JOIN exported ";\n    " exported)
file(WRITE ${OUTPUT}.tmp "{\n  global:\n    ${exported};\n  local:\n    *;\n};\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
