#!/usr/bin/env bash
# Install the build tree into a fresh prefix, then build and run a user program
# against it twice: with pkg-config, and with CMake's find_package(gort).
set -euo pipefail
build=$1 here=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" > /dev/null
for f in include/gort/gort.h include/gort/alloc.h lib/pkgconfig/gort.pc lib/cmake/gort/gortConfig.cmake; do
    [ -e "$prefix/$f" ] || { echo "missing after install: $f"; exit 1; }
done
[ ! -e "$prefix/include/gort/internal" ] || { echo "internal headers were installed"; exit 1; }
ls "$prefix"/lib*/libgort.so* "$prefix"/lib*/libgort.a > /dev/null

# pkg-config, shared library
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -Wall -Wextra -Werror "$here/consumer.c" $(pkg-config --cflags --libs gort) \
   -Wl,-rpath,"$prefix/lib" -o "$prefix/consumer-pc"
"$prefix/consumer-pc" | grep -q "consumer ok"

# only the public API is exported from the shared library
if nm -D --defined-only "$prefix/lib/libgort.so" | awk '{print $3}' | grep -v '^gort_' | grep -v '^_' | grep -q .; then
    echo "libgort.so exports non-gort symbols:"; nm -D --defined-only "$prefix/lib/libgort.so" | grep -v ' gort_'
    exit 1
fi
if nm -D --defined-only "$prefix/lib/libgort.so" | grep -q ' gort__'; then
    echo "libgort.so exports internal gort__ symbols"; exit 1
fi

# CMake package
mkdir -p "$prefix/proj"
cat > "$prefix/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(gort REQUIRED)
add_executable(consumer $here/consumer.c)
target_link_libraries(consumer gort::gort)
CM
cmake -S "$prefix/proj" -B "$prefix/proj/build" -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build "$prefix/proj/build" > /dev/null
"$prefix/proj/build/consumer" | grep -q "consumer ok"
echo "install: pkg-config and find_package consumers built and ran"
