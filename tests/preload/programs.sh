#!/usr/bin/env bash
# Real Debian programs on libgort_malloc.so: each runs once on glibc's malloc and
# once with LD_PRELOAD (and GORT_DEBUG=allocstats=1, whose report must appear: the
# proof the preload took), and must print byte-identical output both times.
#   programs.sh LIBGORT_MALLOC NAME
# NAME: python-threads python-mp sqlite perl git gcc sort xz redis.
# Exit 77 (CTest: skipped) when the program is not installed.
set -euo pipefail
lib=$(readlink -f "$1")
name=$2
here=$(cd "$(dirname "$0")" && pwd)
progs=$here/programs
work=$(mktemp -d /tmp/gort-preload-XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
export LC_ALL=C TZ=UTC

need() {
    for p in "$@"; do
        command -v "$p" >/dev/null || { echo "$p not installed: skipped"; exit 77; }
    done
}

# compare LABEL CMD...: run CMD (a shell function or program) in a fresh directory,
# first on glibc, then on gort; compare what it prints.
compare() {
    local label=$1
    shift
    mkdir -p "$work/glibc" "$work/gort"
    local t0=$SECONDS rc
    set +e
    (set -e; cd "$work/glibc"; "$@") >"$work/glibc.out" 2>"$work/glibc.err"
    rc=$?
    set -e
    if [ $rc != 0 ]; then
        echo "$label: failed on glibc (exit $rc):"; tail -20 "$work/glibc.err"; exit 1
    fi
    local t1=$SECONDS
    set +e
    (set -e; cd "$work/gort"; export GORT_DEBUG=allocstats=1 LD_PRELOAD="$lib"; "$@") \
        >"$work/gort.out" 2>"$work/gort.err"
    rc=$?
    set -e
    if [ $rc != 0 ]; then
        echo "$label: failed on gort (exit $rc):"; tail -30 "$work/gort.err"; exit 1
    fi
    local t2=$SECONDS
    if ! cmp -s "$work/glibc.out" "$work/gort.out"; then
        echo "$label: output differs between glibc and gort:"
        diff "$work/glibc.out" "$work/gort.out" | head -40
        exit 1
    fi
    if ! grep -q "gort allocstats" "$work/gort.err"; then
        echo "$label: no allocstats report at exit: did the preload take?"
        tail -20 "$work/gort.err"
        exit 1
    fi
    echo "$label: identical output ($(wc -l <"$work/gort.out") lines; glibc $((t1 - t0)) s, gort $((t2 - t1)) s)"
    grep -m1 -A2 "gort allocstats" "$work/gort.err" | sed 's/^/    /'
}

# Deterministic text: N lines of pseudo-random words and numbers.
gen_lines() {
    awk -v n="$1" 'BEGIN { x = 12345; for (i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) % 2147483648; y = (x * 69069 + 1) % 2147483648;
        printf "%08x %d w%d-%s\n", x, y % 100000, x % 977, substr("abcdefghijklmnopqrstuvwxyz", 1 + y % 26) } }'
}

py=/usr/bin/python3

case "$name" in
python-threads)
    need $py
    compare "python3 threads" $py "$progs/py_threads.py"
    ;;
python-mp)
    need $py
    compare "python3 multiprocessing" $py "$progs/py_multiprocessing.py"
    ;;
sqlite)
    need sqlite3
    run_sqlite() { sqlite3 db.sqlite <"$progs/sqlite.sql"; }
    compare "sqlite3" run_sqlite
    ;;
perl)
    need perl
    compare "perl" perl "$progs/perl.pl"
    ;;
git)
    need git
    run_git() {
        export HOME=$PWD GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=gort GIT_AUTHOR_EMAIL=gort@example.org
        export GIT_COMMITTER_NAME=gort GIT_COMMITTER_EMAIL=gort@example.org
        git init -q -b main repo && cd repo
        for c in 1 2 3 4 5 6; do
            export GIT_AUTHOR_DATE="2024-01-0$c 12:00:00 +0000" GIT_COMMITTER_DATE="2024-01-0$c 12:00:00 +0000"
            for f in $(seq 1 150); do
                mkdir -p "d$((f % 10))"
                gen_lines $((f * 3 + c * 7)) >"d$((f % 10))/f$f.txt"
            done
            git add -A && git commit -q -m "commit $c"
            [ $c = 3 ] && git branch side HEAD~1
        done
        git checkout -q side
        export GIT_AUTHOR_DATE="2024-02-01 12:00:00 +0000" GIT_COMMITTER_DATE="2024-02-01 12:00:00 +0000"
        echo side >side.txt && git add side.txt && git commit -q -m side
        git checkout -q main && git merge -q --no-edit side
        git gc -q --aggressive
        git fsck --full --strict && echo "fsck ok"
        git log --stat --format='%H %s' | md5sum
        git rev-parse HEAD HEAD^{tree}
        { git grep -c "w97-" HEAD || true; } | md5sum
        git diff HEAD~5 HEAD --stat | tail -1
        git archive HEAD | md5sum
    }
    compare "git" run_git
    ;;
gcc)
    need gcc $py
    $py "$progs/gen_c.py" 800 >"$work/big.c"
    run_gcc() { gcc -O1 -w -S -o big.s "$work/big.c" && md5sum <big.s && wc -l <big.s; }
    compare "gcc -O1 ($(wc -l <"$work/big.c") generated lines)" run_gcc
    ;;
sort)
    need sort
    gen_lines 1500000 >"$work/lines.txt"
    run_sort() {
        sort --parallel=4 -S 64M "$work/lines.txt" | md5sum
        sort --parallel=2 -S 16M -t' ' -k2,2n -k1,1 "$work/lines.txt" | md5sum
        sort --parallel=4 -u -k3,3 "$work/lines.txt" | md5sum
    }
    compare "sort --parallel" run_sort
    ;;
xz)
    need xz
    gen_lines 600000 >"$work/data.txt"
    run_xz() {
        xz -T4 -4 --block-size=2MiB -c "$work/data.txt" >data.xz
        md5sum <data.xz
        xz -T4 -d -c data.xz | md5sum
        xz -T2 -e -2 --block-size=1MiB -c "$work/data.txt" | xz -T2 -d | cmp - "$work/data.txt" && echo roundtrip ok
    }
    compare "xz -T4" run_xz
    ;;
redis)
    need redis-server redis-cli redis-benchmark $py
    run_redis() {
        # A random free port on the loopback interface.
        local port
        port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$PWD" \
            --enable-debug-command local --logfile "$PWD/redis.log" &
        redis_pid=$!
        trap '[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null' EXIT
        for _ in $(seq 100); do
            redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
            sleep 0.1
        done
        redis-benchmark -h 127.0.0.1 -p "$port" -n 15000 -c 8 -d 200 -r 5000 -q \
            -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset >/dev/null
        redis-cli -p "$port" flushall >/dev/null
        # A deterministic data set, then its digest and some of its contents.
        $py - "$port" <<'PY' | redis-cli -p "$port" --pipe >/dev/null
import sys
def cmd(*a):
    out = "*%d\r\n" % len(a)
    for x in a:
        x = str(x)
        out += "$%d\r\n%s\r\n" % (len(x.encode()), x)
    sys.stdout.write(out)
for i in range(20000):
    cmd("SET", "k%d" % i, "v" * (i % 700) + str(i))
    cmd("RPUSH", "list%d" % (i % 50), i)
    cmd("HSET", "h%d" % (i % 100), "f%d" % i, "x" * (i % 90))
    cmd("ZADD", "z%d" % (i % 20), i % 997, "m%d" % i)
    cmd("SADD", "s%d" % (i % 30), i * 7 % 1000)
    if i % 1000 == 0:
        cmd("SET", "big%d" % i, "B" * (100000 + i))
for i in range(0, 20000, 3):
    cmd("DEL", "k%d" % i)
    cmd("APPEND", "k%d" % (i + 1), "-appended")
PY
        redis-cli -p "$port" dbsize
        redis-cli -p "$port" debug digest
        redis-cli -p "$port" lrange list7 0 5
        redis-cli -p "$port" zrange z3 0 4 withscores
        redis-cli -p "$port" get k4000 | md5sum
        redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
        wait "$redis_pid"
        redis_pid=
        cat redis.log >&2
    }
    compare "redis-server + redis-benchmark" run_redis
    ;;
*)
    echo "programs.sh: unknown program '$name'"
    exit 2
    ;;
esac
