# gort — the two set-up commands are `make test` and `make bench`.
# Each installs the Debian packages it needs (tools/packages.txt), configures,
# builds and runs.  Build trees live under build/.

JOBS    ?= $(shell nproc)
CTEST   := ctest --output-on-failure --timeout 300 -j $(JOBS)
CMAKE   := cmake -Wno-dev

.PHONY: all test test-debug test-asan test-tsan test-stress bench deps-test deps-bench install clean

all:
	$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=Release
	cmake --build build/release -j $(JOBS)

deps-test:
	tools/deps.sh test

deps-bench:
	tools/deps.sh bench

# Every cmocka suite: a debug build (gcc, invariant checks on), then the
# ASan+UBSan and TSan builds (clang) of the same suites.
test: deps-test
	$(MAKE) --no-print-directory test-debug test-asan test-tsan

test-debug:
	$(CMAKE) -S . -B build/debug -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ -DGORT_DEBUG_CHECKS=ON -DGORT_WERROR=ON
	cmake --build build/debug -j $(JOBS)
	cd build/debug && $(CTEST)

test-asan:
	$(CMAKE) -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DGORT_SANITIZE=address,undefined -DGORT_DEBUG_CHECKS=ON -DGORT_WERROR=ON
	cmake --build build/asan -j $(JOBS)
	cd build/asan && $(CTEST) -LE nosan

test-tsan:
	$(CMAKE) -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DGORT_SANITIZE=thread -DGORT_WERROR=ON
	cmake --build build/tsan -j $(JOBS)
	cd build/tsan && $(CTEST) -LE nosan

# The headline comparison against the peers (Release build; not part of ctest).
bench: deps-bench
	$(CMAKE) -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DGORT_BUILD_BENCH=ON
	cmake --build build/release -j $(JOBS)
	bench/run.sh build/release

install: all
	cmake --install build/release

clean:
	rm -rf build
