#!/usr/bin/env bash
# libgort_malloc.so exports the whole libc/glibc/C++ allocation interface; libgort.so
# exports none of it (a program linking gort keeps its own malloc).
#   symbols.sh LIBGORT_MALLOC LIBGORT
set -euo pipefail
preload=$1 plain=$2
want="malloc free calloc realloc reallocarray posix_memalign aligned_alloc memalign valloc
pvalloc malloc_usable_size cfree malloc_trim malloc_stats mallinfo2 mallinfo mallopt
__libc_malloc __libc_free __libc_calloc __libc_realloc __libc_memalign
_Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZnwmSt11align_val_t _ZnamSt11align_val_t
_ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t
_ZdlPv _ZdaPv _ZdlPvm _ZdaPvm _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t
_ZdlPvSt11align_val_t _ZdaPvSt11align_val_t _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t
_ZdlPvSt11align_val_tRKSt9nothrow_t _ZdaPvSt11align_val_tRKSt9nothrow_t"
have=$(nm -D --defined-only "$preload" | awk '{print $NF}')
plain_have=$(nm -D --defined-only "$plain" | awk '{print $NF}')
bad=0
for s in $want; do
    grep -qx "$s" <<<"$have" || { echo "missing from $(basename "$preload"): $s"; bad=1; }
    if grep -qx "$s" <<<"$plain_have"; then echo "exported by $(basename "$plain"): $s"; bad=1; fi
done
# Nothing else leaks out of either library but gort's public API.
extra=$(grep -vxE "gort_[a-z0-9_]+|_init|_fini" <<<"$plain_have" || true)
[ -z "$extra" ] || { echo "$(basename "$plain") exports non-gort symbols:"; echo "$extra"; bad=1; }
[ $bad = 0 ] && echo "symbols: $(wc -w <<<"$want") allocation symbols exported by the preload library only"
exit $bad
