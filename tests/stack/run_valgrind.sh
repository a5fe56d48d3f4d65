#!/bin/sh
# stack.valgrind: run tools_main under memcheck.  Every stack is registered
# with VALGRIND_STACK_REGISTER, so valgrind must neither report an error nor
# warn about the client switching stacks.  Exit 77 (skipped) without valgrind.
prog=$1
command -v valgrind >/dev/null 2>&1 || { echo "SKIP: valgrind is not installed (Debian package valgrind)"; exit 77; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
valgrind --error-exitcode=99 --log-file="$log" "$prog"
rc=$?
cat "$log"
if [ $rc -ne 0 ]; then echo "FAIL: exit status $rc"; exit 1; fi
if grep -q "switching stacks" "$log"; then echo "FAIL: valgrind saw an unregistered stack switch"; exit 1; fi
echo "ok"
