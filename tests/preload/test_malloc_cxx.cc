// C++ on libgort_malloc.so: every operator new/delete form the compiler emits
// reaches gort (alloc/malloc.c defines them in C), the new_handler is called in a
// loop, std::bad_alloc is thrown when there is none, and nothrow new returns null.
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#define CHECK(e)                                                                   \
    do {                                                                           \
        if (!(e)) {                                                                \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #e); \
            std::abort();                                                          \
        }                                                                          \
    } while (0)

struct alignas(256) Wide {
    char bytes[300];
};

static bool from_gort(void *fn) {
    Dl_info info;
    return dladdr(fn, &info) && info.dli_fname && std::strstr(info.dli_fname, "libgort_malloc");
}

static int handler_calls;
static void handler() {
    if (++handler_calls == 3)
        std::set_new_handler(nullptr);   // give up: the next failure throws
}

int main() {
    // operator new and malloc resolve to gort's.
    void *(*op_new)(std::size_t) = &::operator new;
    CHECK(from_gort(reinterpret_cast<void *>(op_new)));
    void *(*m)(std::size_t) = &std::malloc;
    CHECK(from_gort(reinterpret_cast<void *>(m)));

    // Ordinary C++: containers, strings, shared_ptr, threads.
    std::map<std::string, std::vector<int>> table;
    for (int i = 0; i < 20000; i++)
        table["key" + std::to_string(i % 997)].push_back(i);
    long sum = 0;
    for (auto &kv : table)
        for (int v : kv.second)
            sum += v;
    CHECK(sum == 19999L * 20000 / 2);
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++)
        ts.emplace_back([t] {
            std::vector<std::unique_ptr<std::string>> v;
            for (int i = 0; i < 10000; i++)
                v.push_back(std::make_unique<std::string>(100 + (i + t) % 300, 'x'));
            auto sp = std::make_shared<std::vector<char>>(1 << 20);
            (void)sp;
        });
    for (auto &t : ts)
        t.join();

    // Over-aligned types use the align_val_t forms.
    for (int i = 0; i < 100; i++) {
        Wide *w = new Wide;
        CHECK(reinterpret_cast<std::uintptr_t>(w) % 256 == 0);
        Wide *a = new Wide[3];
        CHECK(reinterpret_cast<std::uintptr_t>(a) % 256 == 0);
        delete w;
        delete[] a;
        Wide *n = new (std::nothrow) Wide;
        CHECK(n && reinterpret_cast<std::uintptr_t>(n) % 256 == 0);
        delete n;
    }
    void *p = ::operator new(1000, std::align_val_t(4096));
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 4096 == 0);
    ::operator delete(p, 1000, std::align_val_t(4096));
    p = ::operator new[](10, std::align_val_t(64), std::nothrow);
    CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    ::operator delete[](p, std::align_val_t(64), std::nothrow);

    // Sized delete.
    p = ::operator new(48);
    ::operator delete(p, 48);
    p = ::operator new[](48);
    ::operator delete[](p, 48);
    ::operator delete(nullptr);
    ::operator delete[](nullptr);

    // Failure: nothrow gives null; plain new throws std::bad_alloc...
    const std::size_t huge = std::size_t(1) << 62;
    CHECK(::operator new(huge, std::nothrow) == nullptr);
    CHECK(::operator new[](huge, std::nothrow) == nullptr);
    CHECK(::operator new(huge, std::align_val_t(64), std::nothrow) == nullptr);
    bool thrown = false;
    try {
        p = ::operator new(huge);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown);
    thrown = false;
    try {
        p = ::operator new[](huge, std::align_val_t(128));
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown);
    // ... after calling the new_handler until it gives up.
    std::set_new_handler(handler);
    thrown = false;
    try {
        p = ::operator new(huge);
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown);
    CHECK(handler_calls == 3);
    std::puts("cxx: ok");
    return 0;
}
