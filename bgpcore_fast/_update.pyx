# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The UPDATE hot path in C: framing, prefixes and the common path attributes.

Only the well-formed common case is decoded here. At the first sign of anything unusual
(a length that does not add up, a malformed or duplicate attribute, AS4_PATH, a family or
next hop this module does not know or the session does not allow, an attribute registered
at run time) the whole message
goes to the pure-Python ``bgpcore.wire.update.decode_update``, so RFC 7606 outcomes,
problem strings and exceptions are the pure path's by construction. Results are the same
NamedTuples the pure path builds, so the two compare equal.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.list cimport PyList_New
from cpython.ref cimport Py_DECREF, Py_INCREF, PyObject
from cpython.tuple cimport PyTuple_New
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

import socket

from bgpcore.errors import ErrorAction
from bgpcore.wire.attrs import ATTRS
from bgpcore.wire.framing import check_header as _py_check_header
from bgpcore.wire.framing import split_messages as _py_split_messages
from bgpcore.wire.nlri import decode_prefixes as _py_decode_prefixes
from bgpcore.wire.types import MpReach, MpUnreach, PathAttributes, Update
from bgpcore.wire.update import decode_update as _py_decode_update


cdef extern from "Python.h":
    ctypedef struct _Type "PyTypeObject":
        PyObject* (*tp_alloc)(_Type*, Py_ssize_t)
    # the *_SET_ITEM macros steal the reference they are given
    void _list_set "PyList_SET_ITEM"(object, Py_ssize_t, PyObject*)
    void _tuple_set "PyTuple_SET_ITEM"(object, Py_ssize_t, PyObject*)
    PyObject* _tuple_get "PyTuple_GET_ITEM"(object, Py_ssize_t)
    void PyObject_GC_UnTrack(void*)
    PyObject* _new_bytes "PyBytes_FromStringAndSize"(const char*, Py_ssize_t) except NULL
    PyObject* _new_u32 "PyLong_FromUnsignedLong"(unsigned long) except NULL
    PyObject* _new_u64 "PyLong_FromUnsignedLongLong"(unsigned long long) except NULL
    object PyUnicode_FromStringAndSize(const char*, Py_ssize_t)

DEF HEADER_LEN = 19

cdef object _NONE = ErrorAction.NONE
cdef tuple _NO_PROBLEMS = ()
cdef object _inet_ntop = socket.inet_ntop
cdef int _AF_INET6 = socket.AF_INET6
cdef uint8_t _TRAILING_MASK[8]
_TRAILING_MASK[:] = [0xFF, 0x80, 0xC0, 0xE0, 0xF0, 0xF8, 0xFC, 0xFE]

# Expected Optional/Transitive flag bits per attribute code this module decodes; 0 = not decoded here.
cdef uint8_t _FLAGS[256]
_FLAGS[:] = [0] * 256
for _code, _flags in ((1, 0x40), (2, 0x40), (3, 0x40), (4, 0x80), (5, 0x40), (6, 0x40), (7, 0xC0), (8, 0xC0),
                      (9, 0x80), (10, 0x80), (14, 0x80), (15, 0x80), (16, 0xC0), (32, 0xC0)):
    _FLAGS[_code] = _flags
# attribute codes of the ATTRS table when this module was built; AS4_PATH/AS4_AGGREGATOR go to Python
cdef frozenset _BUILT_IN = frozenset((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 32))
cdef uint64_t _MP_BITS = (1ULL << 14) | (1ULL << 15)
cdef tuple _DEFAULT_FIELDS = tuple(PathAttributes())


# ---- objects -------------------------------------------------------------------------------

cdef inline object _alloc(type cls, Py_ssize_t size):
    """An empty instance of a tuple subclass (a NamedTuple) with ``size`` items, filled by _fill."""
    cdef PyObject* raw = (<_Type*>cls).tp_alloc(<_Type*>cls, size)
    if raw == NULL:
        raise MemoryError()
    obj = <object>raw
    Py_DECREF(obj)
    return obj


cdef inline void _fill(object tup, Py_ssize_t i, object value):
    Py_INCREF(value)
    _tuple_set(tup, i, <PyObject*>value)


cdef inline void _replace(object tup, Py_ssize_t i, object value):
    cdef PyObject* old = _tuple_get(tup, i)
    _fill(tup, i, value)
    Py_DECREF(<object>old)


cdef inline object _frozen(object tup):
    """``tup`` untracked by the cycle collector: it holds only ints, text, bytes and such tuples.

    CPython untracks these itself at the next collection; doing it now keeps the collector
    from walking a whole table of attribute values it can never free.
    """
    PyObject_GC_UnTrack(<PyObject*>tup)
    return tup


cdef object _make_update(list withdrawn, object attributes, list nlri, object mp_reach, object mp_unreach):
    cdef object update = _alloc(Update, 7)
    _fill(update, 0, withdrawn)
    _fill(update, 1, attributes)
    _fill(update, 2, nlri)
    _fill(update, 3, mp_reach)
    _fill(update, 4, mp_unreach)
    _fill(update, 5, _NONE)
    _fill(update, 6, _NO_PROBLEMS)
    return update


# AS numbers and community values repeat across a table: a direct-mapped cache hands out one
# int object per value seen recently instead of a new 32-byte object per occurrence.
DEF _SHARED_BITS = 16
cdef PyObject* _shared_obj[1 << _SHARED_BITS]
cdef uint32_t _shared_val[1 << _SHARED_BITS]


cdef inline PyObject* _shared_u32(uint32_t value) except NULL:
    """A new reference to an int equal to ``value``, shared with earlier calls when cached."""
    cdef uint32_t slot = (value * 2654435761u) >> (32 - _SHARED_BITS)
    cdef PyObject* obj = _shared_obj[slot]
    if obj != NULL and _shared_val[slot] == value:
        Py_INCREF(<object>obj)
        return obj
    obj = _new_u32(value)
    if _shared_obj[slot] != NULL:
        Py_DECREF(<object>_shared_obj[slot])
    Py_INCREF(<object>obj)
    _shared_obj[slot] = obj
    _shared_val[slot] = value
    return obj


cdef inline uint32_t _u32(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


cdef object _ipv4_text(const uint8_t* p):
    """Dotted quad, as socket.inet_ntoa writes it."""
    cdef char buf[16]
    cdef Py_ssize_t n = 0
    cdef int i, octet
    for i in range(4):
        octet = p[i]
        if octet >= 100:
            buf[n] = <char>(48 + octet // 100)
            n += 1
        if octet >= 10:
            buf[n] = <char>(48 + (octet // 10) % 10)
            n += 1
        buf[n] = <char>(48 + octet % 10)
        n += 1
        buf[n] = b'.'
        n += 1
    return PyUnicode_FromStringAndSize(buf, n - 1)


# The last next hops met: a session's table mostly repeats one or two.
cdef uint32_t _last_v4_raw = 0
cdef object _last_v4_text = None
cdef uint8_t _last_mp_raw[32]
cdef Py_ssize_t _last_mp_len = -1
cdef object _last_mp_next_hop = None


cdef object _next_hop_text(const uint8_t* p):
    global _last_v4_raw, _last_v4_text
    cdef uint32_t raw = _u32(p)
    if _last_v4_text is None or raw != _last_v4_raw:
        _last_v4_text = _ipv4_text(p)
        _last_v4_raw = raw
    return _last_v4_text


cdef object _mp_next_hop(const uint8_t* p, Py_ssize_t n):
    """MP_REACH next hop as mp.decode_next_hop gives it: (address,) or (global, link-local)."""
    global _last_mp_len, _last_mp_next_hop
    if n == _last_mp_len and memcmp(p, _last_mp_raw, n) == 0:
        return _last_mp_next_hop
    if n == 4:
        value = _frozen((_ipv4_text(p),))
    elif n == 16:
        value = _frozen((_inet_ntop(_AF_INET6, <bytes>p[:16]),))
    else:
        value = _frozen((_inet_ntop(_AF_INET6, <bytes>p[:16]), _inet_ntop(_AF_INET6, <bytes>p[16:32])))
    memcpy(_last_mp_raw, p, n)
    _last_mp_len = n
    _last_mp_next_hop = value
    return value


# ---- prefixes ------------------------------------------------------------------------------

cdef Py_ssize_t _count_prefixes(const uint8_t* p, Py_ssize_t n, bint addpath, int max_bits) noexcept nogil:
    """How many NLRI entries fill ``p[:n]`` exactly, or -1 when they do not."""
    cdef Py_ssize_t pos = 0, count = 0
    cdef int head = 5 if addpath else 1
    cdef int plen
    while pos < n:
        if pos + head > n:
            return -1
        plen = p[pos + head - 1]
        if plen > max_bits:
            return -1
        pos += head + ((plen + 7) >> 3)
        count += 1
    return count if pos == n else -1


cdef list _prefix_list(const uint8_t* p, Py_ssize_t count, bint addpath):
    """Prefix keys (trailing bits cleared) of ``count`` entries already checked by _count_prefixes."""
    cdef list keys = PyList_New(count)
    cdef int head = 5 if addpath else 1
    cdef Py_ssize_t i, pos = 0, size
    cdef int plen, rest
    cdef uint8_t buf[40]  # path id + length + up to 255 bits
    for i in range(count):
        plen = p[pos + head - 1]
        size = head + ((plen + 7) >> 3)
        rest = plen & 7
        if rest and p[pos + size - 1] & ~_TRAILING_MASK[rest]:
            memcpy(buf, p + pos, size)
            buf[size - 1] &= _TRAILING_MASK[rest]
            _list_set(keys, i, _new_bytes(<const char*>buf, size))
        else:
            _list_set(keys, i, _new_bytes(<const char*>(p + pos), size))
        pos += size
    return keys


cdef object _prefixes_or_none(const uint8_t* p, Py_ssize_t n, bint addpath, int max_bits):
    cdef Py_ssize_t count = _count_prefixes(p, n, addpath, max_bits)
    if count < 0:
        return None
    return _prefix_list(p, count, addpath)


def decode_prefixes(data, afi, bint addpath, max_bits=None):
    """nlri.decode_prefixes: NLRI field -> prefix keys; errors are raised by the pure function."""
    cdef bytes raw = data if type(data) is bytes else bytes(data)
    cdef int limit
    if max_bits is None:
        limit = 32 if afi == 1 else 128
    elif type(max_bits) is not int:
        return _py_decode_prefixes(raw, afi, addpath, max_bits)
    else:  # a length octet is at most 255; a negative limit refuses every prefix
        limit = 255 if max_bits > 255 else -1 if max_bits < 0 else max_bits
    keys = _prefixes_or_none(<const uint8_t*>PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), addpath, limit)
    if keys is None:
        return _py_decode_prefixes(raw, afi, addpath, max_bits)
    return keys


# ---- framing -------------------------------------------------------------------------------

cdef inline bint _header_ok(const uint8_t* h, Py_ssize_t length, int msg_type, Py_ssize_t max_len) noexcept nogil:
    """True when framing.check_header accepts this header."""
    cdef int i
    for i in range(16):
        if h[i] != 0xFF:
            return False
    if msg_type == 1:  # OPEN: never over 4096
        return 29 <= length <= 4096
    if msg_type == 2 or msg_type == 5:
        return 23 <= length <= max_len
    if msg_type == 3:
        return 21 <= length <= max_len
    if msg_type == 4:
        return length == 19 and length <= max_len
    return False


def split_messages(buf, max_len=4096):
    """framing.split_messages: whole messages at the start of ``buf`` as (type, body), and bytes used."""
    cdef const uint8_t* p
    cdef Py_ssize_t end, pos = 0, length, limit
    cdef int msg_type
    if type(max_len) is not int or not 0 <= max_len <= 0xFFFF:
        return _py_split_messages(buf, max_len)
    limit = max_len
    if type(buf) is bytes:
        p = <const uint8_t*>PyBytes_AS_STRING(buf)
        end = PyBytes_GET_SIZE(buf)
    elif type(buf) is bytearray:
        p = <const uint8_t*>PyByteArray_AS_STRING(buf)
        end = PyByteArray_GET_SIZE(buf)
    else:
        return _py_split_messages(buf, max_len)
    cdef list out = []
    while end - pos >= HEADER_LEN:
        length = (p[pos + 16] << 8) | p[pos + 17]
        msg_type = p[pos + 18]
        if not _header_ok(p + pos, length, msg_type, limit):
            _py_check_header(<bytes>p[pos:pos + 16], length, msg_type, max_len)  # raises the pure path's error
        if end - pos < length:
            break
        out.append((msg_type, <bytes>p[pos + HEADER_LEN:pos + length]))
        pos += length
    return out, pos


# ---- path attributes -----------------------------------------------------------------------

cdef object _as_path(const uint8_t* v, Py_ssize_t n, bint asn4):
    """AS_PATH segments, or None when anything is wrong with them."""
    cdef Py_ssize_t pos = 0, count = 0, i, j, segments
    cdef int size = 4 if asn4 else 2
    cdef int seg_type, ases
    while pos < n:
        if pos + 2 > n:
            return None
        seg_type = v[pos]
        ases = v[pos + 1]
        if seg_type < 1 or seg_type > 4 or ases == 0:
            return None
        pos += 2 + ases * size
        count += 1
    if pos != n:
        return None
    segments = count
    cdef tuple path = PyTuple_New(segments)
    pos = 0
    for i in range(segments):
        ases = v[pos + 1]
        numbers = PyTuple_New(ases)
        for j in range(ases):
            if asn4:
                _tuple_set(numbers, j, _shared_u32(_u32(v + pos + 2 + 4 * j)))
            else:
                _tuple_set(numbers, j, _shared_u32((v[pos + 2 + 2 * j] << 8) | v[pos + 3 + 2 * j]))
        _fill(path, i, _frozen((<int>v[pos], _frozen(numbers))))
        pos += 2 + ases * size
    return _frozen(path)


cdef tuple _u32_tuple(const uint8_t* v, Py_ssize_t count):
    cdef tuple out = PyTuple_New(count)
    cdef Py_ssize_t i
    for i in range(count):
        _tuple_set(out, i, _shared_u32(_u32(v + 4 * i)))
    return _frozen(out)


cdef tuple _u64_tuple(const uint8_t* v, Py_ssize_t count):
    cdef tuple out = PyTuple_New(count)
    cdef Py_ssize_t i
    for i in range(count):
        _tuple_set(out, i, _new_u64((<uint64_t>_u32(v + 8 * i) << 32) | _u32(v + 8 * i + 4)))
    return _frozen(out)


cdef tuple _large_communities(const uint8_t* v, Py_ssize_t count):
    cdef tuple out = PyTuple_New(count)
    cdef Py_ssize_t i
    for i in range(count):
        _fill(out, i, _u32_tuple(v + 12 * i, 3))
    return _frozen(out)


# The context last seen: a session decodes all its UPDATEs with one, so its fields are read once.
cdef object _ctx = None
cdef bint _asn4 = True
cdef bint _addpath[3][3]
cdef bint _extended_nexthop[3][3]  # an IPv6 next hop may come with this IPv4 family (RFC 8950)
cdef bint _negotiated[3][3]  # MP attributes of this family are decoded (else Python ignores them)


cdef int _load_context(object ctx) except -1:
    global _ctx, _asn4
    if ctx is _ctx:
        return 0
    cdef int afi, safi
    addpath = ctx.addpath
    extended_nexthop = ctx.extended_nexthop
    families = ctx.families
    for afi in range(1, 3):
        for safi in range(1, 3):
            _addpath[afi][safi] = (afi, safi) in addpath
            _extended_nexthop[afi][safi] = afi == 1 and (afi, safi) in extended_nexthop
            _negotiated[afi][safi] = families is None or (afi, safi) in families
    _asn4 = bool(ctx.asn4)
    _ctx = ctx
    return 0


cdef object _mp_reach(const uint8_t* v, Py_ssize_t n):
    """MP_REACH_NLRI of IPv4/IPv6 unicast or multicast, or None for anything else."""
    if n < 5:
        return None
    cdef int afi = (v[0] << 8) | v[1]
    cdef int safi = v[2]
    cdef Py_ssize_t nh_len = v[3]
    if afi < 1 or afi > 2 or safi < 1 or safi > 2 or 4 + nh_len + 1 > n or not _negotiated[afi][safi]:
        return None
    if nh_len == 4:
        if afi != 1:  # an IPv6 next hop is 16 or 32 octets
            return None
    elif nh_len == 16 or nh_len == 32:
        if afi == 1 and not _extended_nexthop[1][safi]:
            return None
    else:
        return None
    nlri = _prefixes_or_none(v + 5 + nh_len, n - 5 - nh_len, _addpath[afi][safi], 32 if afi == 1 else 128)
    if nlri is None:
        return None
    next_hop = _mp_next_hop(v + 4, nh_len)
    reach = _alloc(MpReach, 4)  # nothing may allocate until it is filled
    _fill(reach, 0, afi)
    _fill(reach, 1, safi)
    _fill(reach, 2, next_hop)
    _fill(reach, 3, nlri)
    return reach


cdef object _mp_unreach(const uint8_t* v, Py_ssize_t n):
    if n < 3:
        return None
    cdef int afi = (v[0] << 8) | v[1]
    cdef int safi = v[2]
    if afi < 1 or afi > 2 or safi < 1 or safi > 2 or not _negotiated[afi][safi]:
        return None
    nlri = _prefixes_or_none(v + 3, n - 3, _addpath[afi][safi], 32 if afi == 1 else 128)
    if nlri is None:
        return None
    unreach = _alloc(MpUnreach, 3)
    _fill(unreach, 0, afi)
    _fill(unreach, 1, safi)
    _fill(unreach, 2, nlri)
    return unreach


cdef object _fast_update(bytes data):
    """The decoded UPDATE, or None to let the pure path decide what is wrong."""
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    if n < 4:
        return None
    cdef Py_ssize_t wlen = (p[0] << 8) | p[1]
    cdef Py_ssize_t aoff = 2 + wlen
    if aoff + 2 > n:
        return None
    cdef Py_ssize_t alen = (p[aoff] << 8) | p[aoff + 1]
    cdef Py_ssize_t noff = aoff + 2 + alen
    if noff > n:
        return None
    cdef bint addpath = _addpath[1][1]
    cdef Py_ssize_t withdrawn_count = _count_prefixes(p + 2, wlen, addpath, 32)
    cdef Py_ssize_t nlri_count = _count_prefixes(p + noff, n - noff, addpath, 32)
    if withdrawn_count < 0 or nlri_count < 0:
        return None
    if alen == 0:
        if nlri_count:
            return None
        return _make_update(_prefix_list(p + 2, withdrawn_count, addpath), None, [], None, None)

    cdef object mp_reach = None, mp_unreach = None
    cdef list unknown = None
    cdef uint64_t seen = 0, bit
    cdef Py_ssize_t pos = aoff + 2, vstart, vlen, i
    cdef int flags, code
    cdef const uint8_t* v
    cdef object fields = _alloc(PathAttributes, 13)  # filled in place, then frozen
    for i in range(13):
        _fill(fields, i, _DEFAULT_FIELDS[i])
    while pos < noff:
        if pos + 3 > noff:
            return None
        flags = p[pos]
        code = p[pos + 1]
        if flags & 0x10:
            if pos + 4 > noff:
                return None
            vlen = (p[pos + 2] << 8) | p[pos + 3]
            vstart = pos + 4
        else:
            vlen = p[pos + 2]
            vstart = pos + 3
        pos = vstart + vlen
        if pos > noff:
            return None
        v = p + vstart
        if _FLAGS[code] == 0:
            if code in _BUILT_IN or not flags & 0x80 or code in ATTRS:
                return None  # AS4_*, an unrecognized well-known or a run-time registered attribute
            if flags & 0x40:
                if unknown is None:
                    unknown = []
                unknown.append(_frozen((flags & 0xE0, code, <bytes>v[:vlen])))
            continue
        bit = 1ULL << code
        if seen & bit or flags & 0xC0 != _FLAGS[code] or (flags & 0x20 and flags & 0xC0 != 0xC0):
            return None  # a duplicate, or wrong flags (Partial set on a well-known or optional non-transitive one too)
        seen |= bit
        if code == 1:
            if vlen != 1 or v[0] > 2:
                return None
            _replace(fields, 0, <int>v[0])
        elif code == 2:
            path = _as_path(v, vlen, _asn4)
            if path is None:
                return None
            _replace(fields, 1, path)
        elif code == 3:
            if vlen != 4 or _u32(v) == 0 or v[0] >= 224:
                return None
            _replace(fields, 2, _next_hop_text(v))
        elif code == 4 or code == 5:
            if vlen != 4:
                return None
            _replace(fields, code - 1, _u32(v))
        elif code == 6:
            if vlen:
                return None
            _replace(fields, 5, True)
        elif code == 7:
            if _asn4:
                if vlen != 8:
                    return None
                _replace(fields, 6, _frozen((_u32(v), _ipv4_text(v + 4))))
            else:
                if vlen != 6:
                    return None
                _replace(fields, 6, _frozen(((v[0] << 8) | v[1], _ipv4_text(v + 2))))
        elif code == 8:
            if vlen == 0 or vlen & 3:
                return None
            _replace(fields, 7, _u32_tuple(v, vlen >> 2))
        elif code == 9:
            if vlen != 4:
                return None
            _replace(fields, 8, _ipv4_text(v))
        elif code == 10:
            if vlen == 0 or vlen & 3:
                return None
            _replace(fields, 9, _frozen(tuple([_ipv4_text(v + i) for i in range(0, vlen, 4)])))
        elif code == 14:
            mp_reach = _mp_reach(v, vlen)
            if mp_reach is None:
                return None
        elif code == 15:
            mp_unreach = _mp_unreach(v, vlen)
            if mp_unreach is None:
                return None
        elif code == 16:
            if vlen == 0 or vlen & 7:
                return None
            _replace(fields, 10, _u64_tuple(v, vlen >> 3))
        else:  # 32
            if vlen == 0 or vlen % 12:
                return None
            _replace(fields, 11, _large_communities(v, vlen // 12))

    if nlri_count or (mp_reach is not None and len(<list>mp_reach[3])):
        if not (seen & (1 << 1)) or not (seen & (1 << 2)) or (nlri_count and not (seen & (1 << 3))):
            return None  # a missing well-known attribute: treat-as-withdraw
    attributes = None
    if seen & ~_MP_BITS or unknown is not None:
        if unknown is not None:
            _replace(fields, 12, _frozen(tuple(unknown)))
        attributes = _frozen(fields)
    return _make_update(_prefix_list(p + 2, withdrawn_count, addpath), attributes,
                        _prefix_list(p + noff, nlri_count, addpath), mp_reach, mp_unreach)


def decode_update(body, ctx):
    """update.decode_update: an UPDATE body (without its header) -> Update, same outcomes and errors."""
    cdef bytes data = body if type(body) is bytes else bytes(body)
    _load_context(ctx)
    update = _fast_update(data)
    if update is None:
        return _py_decode_update(data, ctx)
    return update
