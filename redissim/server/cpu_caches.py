"""What the CPU's caches do to the cost of a key lookup as the dataset grows.

Models no one function of Redis but what every key command starts with: ``lookupKey`` ->
``dictFind`` (``src/db.c``, ``src/dict.c``) reads the bucket slot, the ``dictEntry``, the
key's SDS and the value's ``robj``, a handful of cache lines at addresses no prefetcher can
guess. While the dataset fits in the L2 and the last-level cache most of those reads are
hits; as it grows past them more come from RAM, and a GET that costs 0.13 us on 10k keys
costs 0.76 us on 3M (benchmarks/calibrate_dataset.py, keys written once in order; written in
random order, overwritten several times, the same keys cost more and the curve is flatter:
benchmarks/RESULTS.md).

The profile's command costs were measured with 100k keys (``dataset.reference-bytes`` of
data). With ``model.cpu-caches: yes`` every command that touches keys has its cost scaled by

    (base + l2_miss x max(0, 1 - L2 / D) + llc_miss x max(0, 1 - LLC / D)) / (the same at the reference)

where D is ``used_memory_dataset``: the shares of uniformly random lookups that miss each
cache, weighted by what a lookup's misses cost there, fitted to a real server's GET. Why a
ratio and not a sum: a command's own work (copying the value, building the reply) slows with
the caches too, and a ratio never makes a command free on a small dataset.

Assumed, not modelled: that keys are picked uniformly (under a skewed workload the hot keys
stay cached, and the real cost grows less), and that nothing else competes for the caches.
The ratio is taken at serverCron (every 1000/hz ms): the dataset changes slowly next to it.
Without maxmemory the memory accounting measures every key to give the dataset's size, so
it is measured again only when the number of keys has moved by more than a tenth since;
in between the size is taken as proportional to the number of keys.
"""

from __future__ import annotations

from typing import Any


class CacheScaling:
    """Keeps ``loop.key_cost_factor`` at the ratio above for the current dataset size."""

    def __init__(self, loop: Any, memory: Any, *, base_us: float, l2_miss_us: float,
                 llc_miss_us: float, l2_bytes: float, llc_bytes: float,
                 reference_bytes: float) -> None:
        self.loop = loop
        self.memory = memory
        self.base = base_us
        self.l2_miss = l2_miss_us
        self.llc_miss = llc_miss_us
        self.l2 = l2_bytes
        self.llc = llc_bytes
        self.reference = self.lookup_us(reference_bytes)
        #: keys and dataset bytes at the last measurement (-1: none yet)
        self._keys = -1
        self._bytes = 0

    def lookup_us(self, dataset: float) -> float:
        """What the fitted GET costs with ``dataset`` bytes of data (uniform lookups)."""
        if dataset <= 0:
            return self.base
        return (self.base + self.l2_miss * max(0.0, 1.0 - self.l2 / dataset)
                + self.llc_miss * max(0.0, 1.0 - self.llc / dataset))

    def factor(self, dataset: float) -> float:
        return self.lookup_us(dataset) / self.reference

    def dataset_bytes(self) -> float:
        keys = sum(len(db.data) for db in self.memory.ks.dbs)
        if self._keys < 0 or abs(keys - self._keys) * 10 > self._keys:
            self._keys = keys
            self._bytes = self.memory.used_memory_dataset()
        return self._bytes * keys / self._keys if self._keys else 0.0

    def cron(self, t: float) -> float:
        """A serverCron hook: re-reads the dataset's size (the model charges nothing for it;
        Redis keeps its counters as it goes)."""
        self.loop.key_cost_factor = self.factor(self.dataset_bytes())
        return t
