# cython: language_level=3, boundscheck=False, wraparound=False
"""The RIB's per-prefix loops in C, with the results of their pure-Python references.

Each function here is its namesake ``py_*`` in ``bgpcore.rib.accel``:

- ``group_runs``: an update group's encoding round over its dirty prefixes (look up the
  best path, export it through the group's cache, skip what was already advertised, group
  the rest by exported route);
- ``insert_absent``: the Loc-RIB's single-path case, new prefixes of one path;
- ``add_keys`` and ``take_keys``: marking prefixes pending in an update group, and taking
  a round's worth from the front;
- ``split_by_shard``: prefixes by RIB shard (CRC-32 of the key, as ``zlib.crc32``), and
  ``split_ops``: a batch of inbound ops by shard.

They take the Loc-RIB's classes and callbacks as arguments, so this module imports nothing
from bgpcore.
"""
from cpython.dict cimport PyDict_Clear, PyDict_DelItem, PyDict_GetItem, PyDict_Keys, PyDict_Next, PyDict_SetItem
from cpython.list cimport PyList_Append
from cpython.object cimport PyObject, Py_TYPE


cdef extern from "Python.h":
    object PyLong_FromVoidPtr(void*)
    PyObject* PyDict_SetDefault(object, object, object) except NULL
    Py_ssize_t PyDict_Size(object)


def group_runs(list keys, dict table, dict cache, dict advertised, bint record, bint per_prefix,
               type destination, object wanted, dict prior=None):
    """See ``bgpcore.rib.accel.py_group_runs``.

    Consecutive keys usually share a best path (they arrived in one UPDATE): the last best
    path's route and the last run are kept at hand, so such keys cost one Loc-RIB probe and
    one advertised-state probe each."""
    cdef dict batches = {}
    cdef list runs = []
    cdef list withdrawn = []
    cdef list last_run = None
    cdef PyObject* found
    cdef Py_ssize_t size
    cdef object key, entry, best, out, before, ident
    cdef object last_best = None, last_out = None, last_run_out = None
    cdef tuple batch
    for key in keys:
        found = PyDict_GetItem(table, key)
        if found is NULL:
            out = None
        else:
            entry = <object>found
            if <PyObject*>Py_TYPE(entry) is <PyObject*>destination:
                best = entry.best
            else:
                best = entry
            if best is last_best and not per_prefix:
                out = last_out
            else:
                found = NULL if per_prefix else PyDict_GetItem(cache, PyLong_FromVoidPtr(<void*>best))
                if found is not NULL:
                    out = (<tuple>found)[1]
                else:
                    out = wanted(entry, key)
                last_best, last_out = best, out
        if out is None:
            if not record:
                withdrawn.append(key)
            else:
                found = PyDict_GetItem(advertised, key)
                if found is not NULL:
                    if prior is not None:
                        PyDict_SetItem(prior, key, <object>found)
                    PyDict_DelItem(advertised, key)
                    withdrawn.append(key)
            continue
        if record:
            # one probe when the key is new: insert, and see whether it was there before
            size = PyDict_Size(advertised)
            before = <object>PyDict_SetDefault(advertised, key, out)
            if PyDict_Size(advertised) == size:
                if before is out or before == out:
                    continue
                if prior is not None:
                    PyDict_SetItem(prior, key, before)
                PyDict_SetItem(advertised, key, out)
        if out is last_run_out:
            PyList_Append(last_run, key)
            continue
        ident = PyLong_FromVoidPtr(<void*>out)
        found = PyDict_GetItem(batches, ident)
        if found is NULL:
            batch = (out, [key])
            PyDict_SetItem(batches, ident, batch)
            runs.append(batch)
        else:
            batch = <tuple>found
            PyList_Append(batch[1], key)
        last_run_out, last_run = out, batch[1]
    return runs, withdrawn


def insert_absent(dict table, list keys, object value):
    """See ``bgpcore.rib.accel.py_insert_absent``: one probe per key instead of two."""
    cdef Py_ssize_t size = PyDict_Size(table)
    cdef Py_ssize_t i, j
    cdef Py_ssize_t n = len(keys)
    for i in range(n):
        PyDict_SetDefault(table, keys[i], value)
        if PyDict_Size(table) != size + i + 1:  # it was there already (or repeats a key)
            for j in range(i):
                PyDict_DelItem(table, keys[j])
            return False
    return True


def add_keys(dict dirty, list keys):
    """See ``bgpcore.rib.accel.py_add_keys``: no temporary dict."""
    cdef object key
    for key in keys:
        PyDict_SetItem(dirty, key, None)


def take_keys(dict dirty, Py_ssize_t count):
    """See ``bgpcore.rib.accel.py_take_keys``."""
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef list out
    cdef object k
    if PyDict_Size(dirty) <= count:
        out = PyDict_Keys(dirty)
        PyDict_Clear(dirty)
        return out
    out = []
    while len(out) < count and PyDict_Next(dirty, &pos, &key, &value):
        PyList_Append(out, <object>key)
    for k in out:
        PyDict_DelItem(dirty, k)
    return out


cdef unsigned int _CRC_TABLE[256]


cdef void _fill_crc_table():
    cdef unsigned int c, n, k
    for n in range(256):
        c = n
        for k in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if c & 1 else (c >> 1)
        _CRC_TABLE[n] = c


_fill_crc_table()


cdef list _split(list keys, Py_ssize_t cut, Py_ssize_t count):
    cdef list parts = [[] for _ in range(count)]
    cdef bytes key
    cdef const unsigned char* data
    cdef Py_ssize_t i, n
    cdef unsigned int c
    for key in keys:
        data = key
        n = len(key)
        c = 0xFFFFFFFF
        for i in range(cut, n):
            c = _CRC_TABLE[(c ^ data[i]) & 0xFF] ^ (c >> 8)
        PyList_Append(parts[(c ^ 0xFFFFFFFF) % count], key)
    return parts


def split_by_shard(list keys, Py_ssize_t cut, Py_ssize_t count):
    """See ``bgpcore.rib.accel.py_split_by_shard``."""
    return _split(keys, cut, count)


def split_ops(list ops, Py_ssize_t count, bint wire):
    """See ``bgpcore.rib.accel.py_split_ops``."""
    if count == 1:
        return [[(a, p, f, None if t is None else tuple(t), n, k, c) for a, p, f, t, n, k, c in ops]
                if wire else ops]
    cdef list parts = [[] for _ in range(count)]
    cdef list seen = [set() for _ in range(count)]
    cdef list mine, split
    cdef tuple op
    cdef object announce, peer, family, attrs, next_hop, cut
    cdef Py_ssize_t i
    for op in ops:
        announce, peer, family, attrs, next_hop, keys, cut = op
        if wire and attrs is not None:
            attrs = tuple(attrs)
        split = _split(keys, cut, count)
        for i in range(count):
            mine = split[i]
            if mine:
                PyList_Append(parts[i], (announce, peer, family, attrs, next_hop, mine, cut))
                (<set>seen[i]).add(peer)
            elif peer not in <set>seen[i]:
                PyList_Append(parts[i], (False, peer, family, None, (), mine, cut))
                (<set>seen[i]).add(peer)
    return parts
