# A large generated C file for gcc: many functions, structs, switches and loops.
import sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
print("#include <stddef.h>")
for i in range(n):
    print(f"struct s{i} {{ int a; long b; double c[{i % 7 + 1}]; struct s{i} *next; }};")
    print(f"static long f{i}(struct s{i} *p, int x) {{")
    print(f"  long acc = {i};")
    print(f"  for (int k = 0; k < x; k++) {{")
    print(f"    switch ((k + {i}) % 5) {{")
    for c in range(5):
        print(f"    case {c}: acc += p->a * {c + i} + (long)p->c[k % {i % 7 + 1}]; break;")
    print("    }")
    print(f"    if (p->next) acc ^= f{i}(p->next, x / 2);")
    print("  }")
    print(f"  return acc + p->b;")
    print("}")
print("long (*table[])(void *, int) = {")
for i in range(n):
    print(f"  (long (*)(void *, int))f{i},")
print("};")
