#!/bin/sh
# sched/gort_text.sh OBJCOPY OBJDUMP libgort.a — rename every .text* section of
# the archive's members to gort_text (see sched/targets.cmake, sched/preempt.c).
set -eu
objcopy=$1 objdump=$2 lib=$3
args=$("$objdump" -h "$lib" | awk '$2 ~ /^\.text/ { print $2 }' | sort -u |
       while read -r s; do printf -- '--rename-section %s=gort_text ' "$s"; done)
[ -n "$args" ] || exit 0
# shellcheck disable=SC2086
"$objcopy" $args "$lib"
