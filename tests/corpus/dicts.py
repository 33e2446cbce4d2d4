# dicts.py - a python3 workload for the corpus test: builds and drops large dicts,
# lists and sets, sorts them, and prints a digest.  Run with PYTHONHASHSEED=0 (string
# hashes, hence set and dict iteration order, are then the same on every run) and
# PYTHONMALLOC=malloc (every object is its own malloc block).
import hashlib


def build(n, seed):
    d = {}
    for i in range(n):
        k = "k%d-%d" % (seed, (i * 7919) % n)
        d[k] = [i, str(i) * (i % 7), {"x": i, "y": [i] * (i % 5)}]
    return d


h = hashlib.sha256()
total = 0
for rnd in range(5):
    d = build(50000, rnd)
    keys = sorted(d.keys(), key=lambda k: (len(k), k))
    lens = {k: len(v[1]) for k, v in d.items() if v[0] % 3 == 0}
    tags = set(k[-3:] for k in keys)
    total += len(keys) + sum(lens.values()) + len(tags)
    h.update("".join(keys[:1000]).encode())
    h.update(",".join(sorted(tags)).encode())
    del d, keys, lens, tags
print(total, h.hexdigest())
