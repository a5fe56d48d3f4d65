#!/bin/sh
# stack.asm_aarch64 / stack.qemu_aarch64: the AArch64 switch, from an x86-64 host.
#   run_cross.sh assemble SRC OUT   assemble stack/switch_aarch64.S (cross gcc, or clang's
#                                   integrated assembler); 77 if neither exists
#   run_cross.sh run SRC OUT        build tests/stack/switch_standalone.c + the assembly
#                                   with aarch64-linux-gnu-gcc -static and run it under
#                                   qemu-aarch64; 77 if either is missing
# (Debian packages gcc-aarch64-linux-gnu and qemu-user, tools/packages.txt.)
mode=$1
src=$2
out=$3
cc=aarch64-linux-gnu-gcc
have_cc=0
command -v $cc >/dev/null 2>&1 && have_cc=1
case $mode in
assemble)
    if [ $have_cc -eq 1 ]; then
        set -x
        exec $cc -c -Wall -Werror -o "$out/switch_aarch64.o" "$src/stack/switch_aarch64.S"
    elif command -v clang >/dev/null 2>&1; then
        set -x
        exec clang --target=aarch64-linux-gnu -c -Wall -Werror -o "$out/switch_aarch64.o" \
            "$src/stack/switch_aarch64.S"
    fi
    echo "SKIP: no AArch64 assembler (aarch64-linux-gnu-gcc or clang)"
    exit 77
    ;;
run)
    qemu=
    for q in qemu-aarch64 qemu-aarch64-static; do
        command -v $q >/dev/null 2>&1 && { qemu=$q; break; }
    done
    if [ $have_cc -eq 0 ] || [ -z "$qemu" ]; then
        echo "SKIP: needs aarch64-linux-gnu-gcc and qemu-aarch64 (Debian gcc-aarch64-linux-gnu, qemu-user)"
        exit 77
    fi
    $cc -std=gnu11 -O2 -Wall -Wextra -Werror -fno-omit-frame-pointer -static -I"$src" \
        -o "$out/switch_standalone_aarch64" \
        "$src/tests/stack/switch_standalone.c" "$src/stack/switch_aarch64.S" || exit 1
    exec $qemu "$out/switch_standalone_aarch64"
    ;;
esac
echo "usage: $0 assemble|run SRC OUT" >&2
exit 2
