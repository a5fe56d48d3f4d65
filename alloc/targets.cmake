# libgort_malloc.so: gort's allocator behind the libc malloc interface, for
# LD_PRELOAD (alloc/malloc.c says how it stays safe there).  The same objects as
# libgort.so plus the shim; only this library exports malloc and friends.
add_library(gort_malloc SHARED $<TARGET_OBJECTS:gort_objects> ${CMAKE_CURRENT_LIST_DIR}/malloc.c)
target_include_directories(gort_malloc PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
target_compile_definitions(gort_malloc PRIVATE GORT_BUILDING=1 _GNU_SOURCE)
# -fno-builtin: the compiler must not treat the malloc defined here as its builtin
# (nor turn malloc+memset into a call to calloc inside calloc).  -fexceptions: a
# std::bad_alloc thrown by operator new unwinds through these frames.
target_compile_options(gort_malloc PRIVATE -fvisibility=hidden -ftls-model=initial-exec
  -fno-builtin -fexceptions)
# -z now: no lazy symbol binding can ever run inside malloc.  -Bsymbolic-functions:
# calls from the shim to gort_malloc & co. are direct, never interposed.
target_link_options(gort_malloc PRIVATE -Wl,-z,now -Wl,-Bsymbolic-functions)
if(NOT GORT_SANITIZE)   # sanitizer runtimes leave symbols for the executable to define
  target_link_options(gort_malloc PRIVATE -Wl,-z,defs)
endif()
target_link_libraries(gort_malloc PRIVATE Threads::Threads)
install(TARGETS gort_malloc LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/gort-run DESTINATION ${CMAKE_INSTALL_BINDIR})
# The runner beside the library in the build tree, so that build/<dir>/gort-run
# finds ./libgort_malloc.so.
add_custom_command(TARGET gort_malloc POST_BUILD
  COMMAND ${CMAKE_COMMAND} -E copy ${PROJECT_SOURCE_DIR}/tools/gort-run $<TARGET_FILE_DIR:gort_malloc>/gort-run
  VERBATIM)
