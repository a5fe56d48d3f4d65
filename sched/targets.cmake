# The scheduler's forced preemption (sched/preempt.c) must know the runtime's
# code from the program's: every .text* section of libgort.a is renamed
# gort_text, which the linker brackets with __start_gort_text/__stop_gort_text
# in the program.  (libgort.so is a separate object: nothing to do.)
find_program(GORT_OBJCOPY NAMES objcopy llvm-objcopy)
find_program(GORT_OBJDUMP NAMES objdump llvm-objdump)
if(GORT_OBJCOPY AND GORT_OBJDUMP)
  add_custom_command(TARGET gort_static POST_BUILD
    COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/gort_text.sh ${GORT_OBJCOPY} ${GORT_OBJDUMP} $<TARGET_FILE:gort_static>
    COMMENT "libgort.a: runtime code into section gort_text (forced preemption)"
    VERBATIM)
else()
  message(WARNING "gort: objcopy/objdump not found: forced preemption stays off in static links")
endif()
