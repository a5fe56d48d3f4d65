# python3 with multiprocessing: a fork-based pool (children inherit the parent's
# heap and allocate on it), a spawn-based pool (fresh interpreters), and shared
# queues between processes.  Prints only deterministic results.
import hashlib
import multiprocessing as mp


def task(n):
    d = {i: str(i * n) * (i % 7 + 1) for i in range(5000 + n)}
    l = sorted(d.values(), key=len)
    return n, len(l), hashlib.md5("".join(l[:500]).encode()).hexdigest()[:12]


def pump(q, n):
    for i in range(2000):
        q.put(("msg", n, i, "z" * (i % 500)))
    q.put(None)


if __name__ == "__main__":
    threads_alloc = [bytearray(1000) for _ in range(1000)]  # a heap worth inheriting
    with mp.get_context("fork").Pool(3) as pool:
        for r in pool.map(task, range(30), chunksize=2):
            print("fork", *r)
    with mp.get_context("spawn").Pool(2) as pool:
        for r in pool.map(task, range(4)):
            print("spawn", *r)
    q = mp.get_context("fork").Queue()
    ps = [mp.get_context("fork").Process(target=pump, args=(q, n)) for n in range(3)]
    for p in ps:
        p.start()
    done = total = 0
    while done < 3:
        m = q.get()
        if m is None:
            done += 1
        else:
            total += len(m[3])
    for p in ps:
        p.join()
    print("queue", total, [p.exitcode for p in ps])
