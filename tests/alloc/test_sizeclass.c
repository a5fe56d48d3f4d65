/* alloc/sizeclass.c against Go's runtime/sizeclasses.go (Go 1.19).
 *
 * The one documented difference: Go's class 3 (24 bytes, 8-byte aligned blocks) is
 * dropped, because C requires malloc(n >= 16) to be 16-byte aligned; requests of
 * 17..24 bytes go to the 32-byte class.  Every other class keeps Go's object size
 * and span size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "alloc/types.h"

/* Go 1.19 runtime/sizeclasses.go, class_to_size and class_to_allocnpages. */
static const uint32_t go_size[68] = {
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288,
    320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
    1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192,
    9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576,
    27264, 28672, 32768};
static const uint8_t go_npages[68] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2, 3, 1, 3, 2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8,
    3, 10, 7, 4};

static void table_matches_go_but_24(void **state) {
    (void)state;
    unsigned g = 0, ours = 0, dropped = 0;
    for (; g < 68; g++) {
        if (go_size[g] == 24) {   /* the documented difference */
            dropped++;
            continue;
        }
        assert_int_equal(gort__class_size[ours], go_size[g]);
        assert_int_equal(gort__class_npages[ours], go_npages[g]);
        ours++;
    }
    assert_int_equal(dropped, 1);
    assert_int_equal(ours, NUM_CLASSES);
}

static void class_invariants(void **state) {
    (void)state;
    for (unsigned c = 1; c < NUM_CLASSES; c++) {
        uint32_t size = gort__class_size[c];
        assert_true(size > gort__class_size[c - 1]);
        if (size >= 16)
            assert_int_equal(size % 16, 0);
        assert_int_equal(gort__class_nelems[c], gort__class_npages[c] * PAGE_SIZE / size);
        assert_true(gort__class_nelems[c] <= MAX_OBJS);
        /* divmul maps every object offset (and every interior offset) to its index */
        uint32_t span_bytes = gort__class_npages[c] * (uint32_t)PAGE_SIZE;
        for (uint32_t off = 0; off < span_bytes; off += (off % size == 0 ? 1 : 7)) {
            uint32_t idx = (uint32_t)(((uint64_t)off * gort__class_divmul[c]) >> 32);
            assert_int_equal(idx, off / size);
        }
    }
}

static void every_size_maps_to_smallest_aligned_class(void **state) {
    (void)state;
    for (size_t n = 0; n <= MAX_SMALL; n++) {
        unsigned c = size_to_class(n);
        assert_true(c >= 1 && c < NUM_CLASSES);
        assert_true(gort__class_size[c] >= (n ? n : 1));
        /* smallest such class */
        if (c > 1)
            assert_true(gort__class_size[c - 1] < n || (n >= 16 && gort__class_size[c - 1] % 16));
        /* C17 alignment: min(16, largest power of two <= n) divides the class size */
        size_t a = 1;
        while (a * 2 <= n && a < 16)
            a *= 2;
        assert_int_equal(gort__class_size[c] % a, 0);
    }
    assert_int_equal(gort__class_size[size_to_class(17)], 32);
    assert_int_equal(gort__class_size[size_to_class(24)], 32);
}

/* The fast paths' one-multiply division (alloc/types.h span_divide): the high half is
 * the object index and the low half is below divmul exactly at object starts. */
static void divide_finds_index_and_starts(void **state) {
    (void)state;
    mspan s = {0};
    for (unsigned c = 1; c < NUM_CLASSES; c++) {
        s.base = 1u << 20;
        s.divmul = gort__class_divmul[c];
        uint32_t size = gort__class_size[c];
        uint32_t span_bytes = gort__class_npages[c] * (uint32_t)PAGE_SIZE;
        for (uint32_t off = 0; off < span_bytes; off++) {
            uint64_t q = span_divide(&s, s.base + off);
            if (DIV_INDEX(q) != off / size || DIV_IS_START(q, &s) != (off % size == 0))
                fail_msg("class %u (%u bytes), offset %u: index %u start %d", c, size, off,
                         DIV_INDEX(q), (int)DIV_IS_START(q, &s));
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_matches_go_but_24),
        cmocka_unit_test(class_invariants),
        cmocka_unit_test(every_size_maps_to_smallest_aligned_class),
        cmocka_unit_test(divide_finds_index_and_starts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
