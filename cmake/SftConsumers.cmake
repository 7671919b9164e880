# What consumers need to link sft: the C++ runtime for C programs (the C API,
# include/sft/sft.h), and sft.pc for pkg-config, derived from what the
# library target really links, so that a dependency added later (curl, MPI,
# ...) reaches the .pc file without anyone editing it.
#
# A static libsft needs its dependencies and the C++ runtime on the link line
# of every consumer, C programs included; `pkg-config --libs sft` (without
# --static) gives only Libs, so they go there. A shared libsft records them
# itself: they go to Libs.private.

# Link flags for the items of `target`'s LINK_LIBRARIES (and, for imported
# targets, their INTERFACE_LINK_LIBRARIES), appended to the list `out`.
function(_sft_pc_flags items out)
  set(flags ${${out}})
  set(implicit_dirs ${CMAKE_C_IMPLICIT_LINK_DIRECTORIES} ${CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES})
  foreach(item IN LISTS items)
    if(item MATCHES "^\\$<BUILD_INTERFACE:" OR item STREQUAL "")
      continue()  # build-tree only (the sanitizer flags of SFT_SANITIZE)
    endif()
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" item "${item}")
    if(item STREQUAL "Threads::Threads")
      list(APPEND flags ${CMAKE_THREAD_LIBS_INIT})  # empty where libc has the threads (glibc 2.34+)
    elseif(TARGET ${item})
      get_target_property(imported ${item} IMPORTED)
      get_target_property(type ${item} TYPE)
      if(imported AND NOT type STREQUAL "INTERFACE_LIBRARY")
        get_target_property(loc ${item} IMPORTED_LOCATION)
        if(NOT loc)
          get_target_property(configs ${item} IMPORTED_CONFIGURATIONS)
          list(GET configs 0 config)
          get_target_property(loc ${item} IMPORTED_LOCATION_${config})
        endif()
        if(loc)
          _sft_pc_flags("${loc}" flags)
        endif()
      endif()
      get_target_property(deps ${item} INTERFACE_LINK_LIBRARIES)
      if(deps)
        _sft_pc_flags("${deps}" flags)
      endif()
    elseif(IS_ABSOLUTE "${item}")
      # A library file, e.g. /usr/lib/x86_64-linux-gnu/libsimdjson.so -> -lsimdjson.
      get_filename_component(dir "${item}" DIRECTORY)
      get_filename_component(name "${item}" NAME)
      string(REGEX REPLACE "^lib" "" name "${name}")
      string(REGEX REPLACE "\\.(so|a|dylib|tbd)(\\..*)?$" "" name "${name}")
      if(NOT dir IN_LIST implicit_dirs)
        list(APPEND flags "-L${dir}")
      endif()
      list(APPEND flags "-l${name}")
    elseif(item MATCHES "^-")
      list(APPEND flags "${item}")
    elseif(NOT item MATCHES "^\\$<")
      list(APPEND flags "-l${item}")
    endif()
  endforeach()
  set(${out} ${flags} PARENT_SCOPE)
endfunction()

# The libraries the C++ compiler driver links beyond what the C driver links
# (libstdc++ and libm for g++): what a C program needs to link a static libsft.
function(sft_cxx_runtime_libraries out)
  set(libs "")
  foreach(lib IN LISTS CMAKE_CXX_IMPLICIT_LINK_LIBRARIES)
    if(NOT lib IN_LIST CMAKE_C_IMPLICIT_LINK_LIBRARIES)
      list(APPEND libs ${lib})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES libs)
  set(${out} ${libs} PARENT_SCOPE)
endfunction()

# Writes ${CMAKE_CURRENT_BINARY_DIR}/sft.pc for `target` and installs it to
# LIBDIR/pkgconfig. Call after every target_link_libraries on `target`.
function(sft_install_pkgconfig target)
  get_target_property(links ${target} LINK_LIBRARIES)
  set(deps "")
  if(links)
    _sft_pc_flags("${links}" deps)
  endif()
  # The C++ runtime, for consumers linking with a C compiler.
  sft_cxx_runtime_libraries(runtime)
  _sft_pc_flags("${runtime}" deps)
  list(REMOVE_DUPLICATES deps)
  list(JOIN deps " " deps)

  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    set(SFT_PC_LIBS "${deps}")
    set(SFT_PC_LIBS_PRIVATE "")
  else()
    set(SFT_PC_LIBS "")
    set(SFT_PC_LIBS_PRIVATE "${deps}")
  endif()

  # Relocatable: the prefix is found from the .pc file's own place
  # (${pcfiledir}), so `cmake --install --prefix P` anywhere gives a working file.
  set(pcdir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(SFT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  else()
    file(RELATIVE_PATH up "/root/${pcdir}" "/root")
    string(REGEX REPLACE "/$" "" up "${up}")
    set(SFT_PC_PREFIX "\${pcfiledir}/${up}")
  endif()
  foreach(kind LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
      set(SFT_PC_${kind} "${CMAKE_INSTALL_${kind}}")
    else()
      set(SFT_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
    endif()
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/sft.pc.in ${CMAKE_CURRENT_BINARY_DIR}/sft.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/sft.pc DESTINATION ${pcdir})
endfunction()
