#!/bin/sh
# stack.assemble_aarch64 / stack.qemu_aarch64 / stack.qemu_aarch64_lib: the AArch64
# switch, from an x86-64 host.
#   run_cross.sh assemble SRC OUT   assemble stack/switch_aarch64.S, alone and as the
#                                   library's (with gort_ctx_switch), with the cross gcc or
#                                   clang's integrated assembler; 77 if neither exists
#   run_cross.sh run SRC OUT        build tests/stack/switch_standalone.c + the assembly
#                                   with aarch64-linux-gnu-gcc -static and run it under
#                                   qemu-aarch64; 77 if either is missing
#   run_cross.sh lib SRC OUT        the same with the whole stack module (and the rt/
#                                   files it uses) and tests/stack/tools_main.c: contexts,
#                                   pool, shrink, and an overflow that must be reported
# (Debian packages gcc-aarch64-linux-gnu and qemu-user, tools/packages.txt.)
mode=$1
src=$2
out=$3
cc=aarch64-linux-gnu-gcc
have_cc=0
command -v $cc >/dev/null 2>&1 && have_cc=1
qemu=
for q in qemu-aarch64 qemu-aarch64-static; do
    command -v $q >/dev/null 2>&1 && { qemu=$q; break; }
done
need_qemu() {
    if [ $have_cc -eq 0 ] || [ -z "$qemu" ]; then
        echo "SKIP: needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian gcc-aarch64-linux-gnu, qemu-user)"
        exit 77
    fi
}
cflags="-std=gnu11 -O2 -g -Wall -Wextra -Werror -fno-omit-frame-pointer -static"
case $mode in
assemble)
    if [ $have_cc -eq 1 ]; then
        as="$cc"
    elif command -v clang >/dev/null 2>&1; then
        as="clang --target=aarch64-linux-gnu"
    else
        echo "SKIP: no AArch64 assembler (aarch64-linux-gnu-gcc or clang)"
        exit 77
    fi
    set -ex
    $as -c -Wall -Werror -o "$out/switch_aarch64.o" "$src/stack/switch_aarch64.S"
    $as -c -Wall -Werror -DGORT_BUILDING=1 -o "$out/switch_aarch64_lib.o" "$src/stack/switch_aarch64.S"
    exit 0
    ;;
run)
    need_qemu
    $cc $cflags -I"$src" -o "$out/switch_standalone_aarch64" \
        "$src/tests/stack/switch_standalone.c" "$src/stack/switch_aarch64.S" || exit 1
    exec $qemu "$out/switch_standalone_aarch64"
    ;;
lib)
    need_qemu
    exe="$out/tools_main_aarch64"
    # shellcheck disable=SC2086
    $cc $cflags -D_GNU_SOURCE -DGORT_BUILDING=1 -I"$src" -I"$src/include" \
        -ffunction-sections -Wl,--gc-sections -o "$exe" \
        "$src/tests/stack/tools_main.c" "$src"/stack/*.c "$src/stack/switch_aarch64.S" \
        "$src/rt/fatal.c" "$src/rt/os.c" "$src/rt/lock.c" "$src/rt/fork.c" -lpthread || exit 1
    $qemu "$exe" || { echo "FAIL: tools_main exited $?"; exit 1; }
    log=$($qemu "$exe" overflow 2>&1)
    rc=$?
    echo "$log"
    range=$(echo "$log" | sed -n 's/^stack \(\[.*size [0-9]*\)$/\1/p')
    [ $rc -ne 0 ] && [ -n "$range" ] &&
        echo "$log" | grep -qF "fatal error: stack overflow: goroutine 5 stack $range" ||
        { echo "FAIL: no overflow report for stack $range (exit $rc)"; exit 1; }
    echo "ok"
    exit 0
    ;;
esac
echo "usage: $0 assemble|run SRC OUT" >&2
exit 2
