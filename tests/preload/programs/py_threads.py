# python3 with threads: allocation-heavy work (dicts, lists, strings, json, re,
# sorting, big integers) in a thread pool and in raw threads handing objects to
# each other through a queue, so objects are freed by threads that did not
# allocate them.  Prints only deterministic results.
import hashlib
import json
import queue
import re
import threading
from concurrent.futures import ThreadPoolExecutor


def work(seed):
    rng = seed * 2654435761 % 2**32
    d = {}
    for i in range(20000):
        rng = (rng * 1103515245 + 12345) % 2**31
        key = "k%d_%s" % (rng % 5000, "x" * (rng % 40))
        d.setdefault(key, []).append(rng)
    text = json.dumps(d, sort_keys=True)
    back = json.loads(text)
    words = re.findall(r"k(\d+)_", text)
    total = sum(int(w) for w in words) + sum(len(v) for v in back.values())
    big = 1
    for i in range(1, 400):
        big *= i + seed
    s = sorted(back.items(), key=lambda kv: (len(kv[1]), kv[0]))
    h = hashlib.sha256((text[:1000] + str(big % 10**50) + s[0][0]).encode()).hexdigest()
    return seed, total, h[:16]


with ThreadPoolExecutor(max_workers=4) as ex:
    for seed, total, h in ex.map(work, range(24)):
        print("pool", seed, total, h)

q = queue.Queue(maxsize=64)
results = {}


def producer(n):
    for i in range(3000):
        q.put([str(n * i)] * (i % 50) + [{"n": n, "i": i, "s": "y" * (i % 300)}])
    q.put(None)


def consumer(name):
    count = chars = 0
    done = 0
    while done < 2:
        item = q.get()
        if item is None:
            done += 1
            continue
        count += 1
        chars += sum(len(x) if isinstance(x, str) else len(x["s"]) for x in item)
    results[name] = (count, chars)


ts = [threading.Thread(target=producer, args=(n,)) for n in (1, 2, 3, 4)]
cs = [threading.Thread(target=consumer, args=(c,)) for c in ("a", "b")]
for t in ts + cs:
    t.start()
for t in ts + cs:
    t.join()
print("queue", sum(c for c, _ in results.values()), sum(ch for _, ch in results.values()))
