# Script mode (cmake -P): the C API's ABI checks, run by ctest (tests/capi.cmake).
#
# MODE=symbols: the sft_* functions the built library exports (nm) must be
#   exactly those listed in EXPECTED (tests/c/abi_symbols.txt) and those
#   declared with SFT_API in HEADER (include/sft/sft.h).
#   Needs NM, LIBRARY, LIBRARY_TYPE (STATIC_LIBRARY or SHARED_LIBRARY).
# MODE=layout: the output of PROGRAM (tests/c/abi_layout.c: struct sizes,
#   field offsets, constants) must equal EXPECTED (tests/c/abi_layout.txt).
cmake_minimum_required(VERSION 3.20)

set(policy "
If the change is deliberate: an ADDITION (a new function, a new constant, a
reserved field given a meaning) keeps the ABI; update the committed list with
the command above, declare and document the function in include/sft/sft.h and
docs/c-api.md. A REMOVAL, RENAME or LAYOUT CHANGE breaks every program built
against libsft: avoid it; if it is unavoidable, increment SFT_ABI_VERSION in
include/sft/sft.h and say so in docs/c-api.md (\"ABI policy\").")

function(read_list file out)
  file(STRINGS ${file} lines)
  set(items "")
  foreach(l IN LISTS lines)
    string(STRIP "${l}" l)
    if(l AND NOT l MATCHES "^#")
      list(APPEND items "${l}")
    endif()
  endforeach()
  set(${out} "${items}" PARENT_SCOPE)
endfunction()

# Prints what is in `a` but not in `b` under `label`; sets `found` when any.
function(report_missing a b label)
  set(extra ${${a}})
  if(${b})
    list(REMOVE_ITEM extra ${${b}})
  endif()
  if(extra)
    list(JOIN extra "\n    " text)
    message("  ${label}:\n    ${text}")
    set(found TRUE PARENT_SCOPE)
  endif()
endfunction()

if(MODE STREQUAL "symbols")
  if(LIBRARY_TYPE STREQUAL "SHARED_LIBRARY")
    set(nm_flags -D --defined-only)
  else()
    set(nm_flags -g --defined-only)
  endif()
  execute_process(COMMAND ${NM} ${nm_flags} ${LIBRARY} OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_VARIABLE nm_err)
  if(rc)
    message(FATAL_ERROR "${NM} ${nm_flags} ${LIBRARY} failed: ${nm_err}")
  endif()
  string(REGEX MATCHALL "[0-9a-fA-F]+ T sft_[A-Za-z0-9_]+" hits "${out}")
  set(exported "")
  foreach(h IN LISTS hits)
    string(REGEX REPLACE ".* T " "" name "${h}")
    list(APPEND exported ${name})
  endforeach()
  list(REMOVE_DUPLICATES exported)
  list(SORT exported)
  if(NOT exported)
    message(FATAL_ERROR "no sft_* symbol found in ${LIBRARY}: is src/capi/ built into it?")
  endif()

  file(STRINGS ${HEADER} decls REGEX "^SFT_API ")
  set(declared "")
  foreach(d IN LISTS decls)
    string(REGEX MATCH "(sft_[a-z0-9_]+)\\(" m "${d}")
    list(APPEND declared ${CMAKE_MATCH_1})
  endforeach()
  list(SORT declared)

  read_list(${EXPECTED} expected)
  list(SORT expected)

  set(found FALSE)
  report_missing(exported expected "exported but not in ${EXPECTED} (added)")
  report_missing(expected exported "in ${EXPECTED} but not exported (removed or renamed)")
  report_missing(declared exported "declared with SFT_API in ${HEADER} but not exported")
  report_missing(exported declared "exported but not declared with SFT_API in ${HEADER}")
  if(found)
    list(JOIN nm_flags " " flags)
    message("The C API's exported symbols changed. To accept the library's list:\n"
            "  ${NM} ${flags} ${LIBRARY} | sed -n 's/.* T \\(sft_[A-Za-z0-9_]*\\)$/\\1/p' | sort -u > ${EXPECTED}\n"
            "${policy}")
    message(FATAL_ERROR "exported symbols differ from ${EXPECTED}")
  endif()
  list(LENGTH exported n)
  message("ok: ${n} sft_* functions, as committed")
elseif(MODE STREQUAL "layout")
  execute_process(COMMAND ${PROGRAM} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(rc EQUAL 77)
    message("${out}")  # "skipped: ..." (ctest's SKIP_REGULAR_EXPRESSION)
    return()
  elseif(rc)
    message(FATAL_ERROR "${PROGRAM} failed: ${rc}")
  endif()
  string(REGEX REPLACE "\n$" "" out "${out}")
  string(REPLACE "\n" ";" actual "${out}")
  read_list(${EXPECTED} expected)
  set(found FALSE)
  report_missing(actual expected "the build has")
  report_missing(expected actual "${EXPECTED} has")
  if(found)
    message("The layout of the C API's structs or constants changed. To accept the build's:\n"
            "  ${PROGRAM} > ${EXPECTED}\n${policy}")
    message(FATAL_ERROR "layout differs from ${EXPECTED}")
  endif()
  list(LENGTH actual n)
  message("ok: ${n} layout lines, as committed")
else()
  message(FATAL_ERROR "MODE must be symbols or layout")
endif()
