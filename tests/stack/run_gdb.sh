#!/bin/sh
# stack.gdb: the gdb recipes of docs/stack.md, checked.  Takes the macro block
# that follows "<!-- gdb-macros -->" in docs/stack.md, stops tools_main while a
# context is suspended, and expects both gort-bt (exact, through the switch's
# CFI) and gort-bt-fp (frame-pointer walk, works on core files) to show the
# context's frames.  Exit 77 (skipped) without gdb.
prog=$1
doc=$2
command -v gdb >/dev/null 2>&1 || { echo "SKIP: gdb is not installed"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk '/<!-- gdb-macros -->/ { armed = 1; next }
     armed && /^```gdb/ { inside = 1; next }
     inside && /^```/ { exit }
     inside { print }' "$doc" > "$dir/macros.gdb"
[ -s "$dir/macros.gdb" ] || { echo "FAIL: no gdb macro block in $doc"; exit 1; }
cat > "$dir/run.gdb" <<GDB
set pagination off
set confirm off
source $dir/macros.gdb
break tools_stop_here
run
echo === gort-bt\n
gort-bt &tools_parked
echo === gort-bt-fp\n
gort-bt-fp &tools_parked
echo === after\n
bt
continue
GDB
gdb -q -batch -nx -x "$dir/run.gdb" "$prog" > "$dir/out" 2>&1
cat "$dir/out"
fail=0
# The suspended context's frames, in both recipes, innermost first.
for section in gort-bt gort-bt-fp; do
    awk -v s="=== $section" '$0 == s { on = 1; next } /^===/ { on = 0 } on' "$dir/out" > "$dir/$section"
    grep -q parked_leaf "$dir/$section" && grep -q parked_middle "$dir/$section" &&
        grep -q parked_fn "$dir/$section" ||
        { echo "FAIL: $section did not show parked_leaf, parked_middle, parked_fn"; fail=1; }
    leaf=$(grep -m1 -n parked_leaf "$dir/$section" | cut -d: -f1)
    fn=$(grep -m1 -n parked_fn "$dir/$section" | cut -d: -f1)
    [ -n "$leaf" ] && [ -n "$fn" ] && [ "$leaf" -lt "$fn" ] || { echo "FAIL: $section order"; fail=1; }
done
# The registers were put back: the program carried on and finished.
awk '/=== after/ { on = 1 } on' "$dir/out" | grep -q "tools_stop_here" ||
    { echo "FAIL: the current thread's backtrace was not restored"; fail=1; }
grep -q "^ok " "$dir/out" && grep -q "exited normally" "$dir/out" ||
    { echo "FAIL: the program did not finish normally after the backtraces"; fail=1; }
[ $fail -eq 0 ] && echo "ok"
exit $fail
