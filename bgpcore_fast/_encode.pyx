# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""UPDATE encoding in C: one attribute set, many prefix keys, as few messages as fit.

The common case is written here byte for byte as ``bgpcore.wire.update`` writes it. Anything
else (a value out of range or of another type, a key longer than the room a message leaves,
an IPv4 route over an IPv6 next hop...) goes to the pure-Python function, which then
raises or encodes exactly as it always does.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove, memset

import socket

from bgpcore.wire.mp import encode_next_hop as _py_encode_next_hop
from bgpcore.wire.mp import mp_reach_header as _py_mp_reach_header
from bgpcore.wire.types import PathAttributes
from bgpcore.wire.update import encode_updates as _py_encode_updates
from bgpcore.wire.update import encode_withdrawals as _py_encode_withdrawals


cdef extern from "Python.h":
    object PyBytes_FromStringAndSize(const char*, Py_ssize_t)
    bint PyLong_Check(object)
    unsigned long long PyLong_AsUnsignedLongLong(object)
    void* PyErr_Occurred()
    void PyErr_Clear()

DEF HEADER_LEN = 19
DEF AS_TRANS = 23456

cdef object _inet_aton = socket.inet_aton


class _Unusual(Exception):
    """Raised inside this module to hand a call to the pure-Python encoder.

    A new instance each time: raising one shared instance again chains each raise's traceback
    (and a frame per Cython function) onto the last, and the module kept them all.
    """


# ---- a growable byte buffer ----------------------------------------------------------------

cdef struct Buf:
    uint8_t* data
    Py_ssize_t size
    Py_ssize_t cap


cdef int _reserve(Buf* b, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap = b.cap
    cdef uint8_t* data
    if b.size + more <= cap:
        return 0
    while cap < b.size + more:
        cap = cap * 2 if cap else 512
    data = <uint8_t*>PyMem_Realloc(b.data, cap)
    if data == NULL:
        raise MemoryError()
    b.data = data
    b.cap = cap
    return 0


cdef inline int _put(Buf* b, const void* src, Py_ssize_t n) except -1:
    _reserve(b, n)
    memcpy(b.data + b.size, src, n)
    b.size += n
    return 0


cdef inline int _put_u8(Buf* b, uint32_t v) except -1:
    _reserve(b, 1)
    b.data[b.size] = <uint8_t>v
    b.size += 1
    return 0


cdef inline int _put_u16(Buf* b, uint32_t v) except -1:
    _reserve(b, 2)
    b.data[b.size] = <uint8_t>(v >> 8)
    b.data[b.size + 1] = <uint8_t>v
    b.size += 2
    return 0


cdef inline int _put_u32(Buf* b, uint32_t v) except -1:
    _reserve(b, 4)
    b.data[b.size] = <uint8_t>(v >> 24)
    b.data[b.size + 1] = <uint8_t>(v >> 16)
    b.data[b.size + 2] = <uint8_t>(v >> 8)
    b.data[b.size + 3] = <uint8_t>v
    b.size += 4
    return 0


cdef Py_ssize_t _open_attribute(Buf* b, uint32_t flags, uint32_t code) except -1:
    """Start an attribute whose length is not known yet (two length octets kept free)."""
    _put_u8(b, flags)
    _put_u8(b, code)
    _put_u16(b, 0)
    return b.size


cdef int _close_attribute(Buf* b, Py_ssize_t start) except -1:
    """Write the length; drop to one length octet and clear Extended Length when it fits (attrs.encode_attribute)."""
    cdef Py_ssize_t n = b.size - start
    if n > 0xFFFF:
        raise _Unusual()
    if n > 255:
        b.data[start - 4] |= 0x10
        b.data[start - 2] = <uint8_t>(n >> 8)
        b.data[start - 1] = <uint8_t>n
    else:
        b.data[start - 4] &= ~0x10
        b.data[start - 2] = <uint8_t>n
        memmove(b.data + start - 1, b.data + start, n)
        b.size -= 1
    return 0


# ---- values, checked as struct.pack would check them ---------------------------------------

cdef inline unsigned long long _unsigned(object v, unsigned long long limit) except? 0xFFFFFFFFFFFFFFFF:
    """``v`` as struct.pack takes it for a field up to ``limit``; anything else is unusual."""
    cdef unsigned long long n
    if not PyLong_Check(v):
        raise _Unusual()
    n = PyLong_AsUnsignedLongLong(v)
    if n == <unsigned long long>-1 and PyErr_Occurred():
        PyErr_Clear()
        raise _Unusual()
    if n > limit:
        raise _Unusual()
    return n


cdef inline uint32_t _u32(object v) except? 0xFFFFFFFF:
    return <uint32_t>_unsigned(v, 0xFFFFFFFF)


cdef inline uint32_t _u8(object v) except? 0xFF:
    return <uint32_t>_unsigned(v, 0xFF)


cdef object _last_address = None
cdef bytes _last_address_raw = None


cdef int _put_address(Buf* b, object address) except -1:
    """An IPv4 address as socket.inet_aton reads it (the pure encoder's function)."""
    global _last_address, _last_address_raw
    if type(address) is not str:
        raise _Unusual()
    if address != _last_address:
        try:
            _last_address_raw = _inet_aton(address)
        except (OSError, ValueError):
            raise _Unusual()
        _last_address = address
    _put(b, PyBytes_AS_STRING(_last_address_raw), 4)
    return 0


cdef int _put_as_path(Buf* b, object segments, bint asn4, bint real_only) except -1:
    """attrs.encode_as_path; ``real_only`` keeps AS_SET/AS_SEQUENCE, as AS4_PATH does."""
    cdef Py_ssize_t i, n, start, count
    cdef uint32_t seg_type, number
    if type(segments) is not tuple:
        raise _Unusual()
    for segment in <tuple>segments:
        if type(segment) is not tuple or len(<tuple>segment) != 2 or type((<tuple>segment)[1]) is not tuple:
            raise _Unusual()
        seg_type = _u8((<tuple>segment)[0])
        ases = <tuple>(<tuple>segment)[1]
        if real_only and seg_type > 2:
            continue
        n = len(ases)
        for start in range(0, n, 255):  # a segment holds at most 255 ASes
            count = min(255, n - start)
            _put_u8(b, seg_type)
            _put_u8(b, count)
            for i in range(start, start + count):
                number = _u32(ases[i])
                if asn4:
                    _put_u32(b, number)
                else:
                    _put_u16(b, number if number <= 0xFFFF else AS_TRANS)
    return 0


cdef bint _has_wide_as(object segments):
    for seg_type, ases in segments:
        if seg_type <= 2:
            for a in ases:
                if a > 0xFFFF:
                    return True
    return False


cdef int _put_u32_attribute(Buf* b, uint32_t flags, uint32_t code, object values) except -1:
    if type(values) is not tuple:
        raise _Unusual()
    cdef Py_ssize_t start = _open_attribute(b, flags, code)
    for value in <tuple>values:
        _put_u32(b, _u32(value))
    return _close_attribute(b, start)


cdef int _put_parts(Buf* head, Buf* tail, object attrs, object next_hop, bint asn4) except -1:
    """attrs.encode_attribute_parts: attributes before MP_REACH_NLRI into ``head``, after into ``tail``."""
    cdef tuple a = <tuple>attrs
    cdef Py_ssize_t start
    cdef uint64_t ext
    origin, as_path, _, med, local_pref, atomic, aggregator, communities, originator, clusters, \
        extended, large, unknown = a
    if origin is not None:
        _put_u8(head, 0x40)
        _put_u8(head, 1)
        _put_u8(head, 1)
        _put_u8(head, _u8(origin))
    start = _open_attribute(head, 0x40, 2)
    _put_as_path(head, as_path, asn4, False)
    _close_attribute(head, start)
    if next_hop is not None:
        _put(head, b"\x40\x03\x04", 3)
        _put_address(head, next_hop)
    if med is not None:
        _put(head, b"\x80\x04\x04", 3)
        _put_u32(head, _u32(med))
    if local_pref is not None:
        _put(head, b"\x40\x05\x04", 3)
        _put_u32(head, _u32(local_pref))
    if atomic is True:
        _put(head, b"\x40\x06\x00", 3)
    elif atomic is not False:
        raise _Unusual()
    if aggregator is not None:
        if type(aggregator) is not tuple or len(<tuple>aggregator) != 2:
            raise _Unusual()
        agg_as = _u32(aggregator[0])
        start = _open_attribute(head, 0xC0, 7)
        if asn4:
            _put_u32(head, agg_as)
        else:
            _put_u16(head, agg_as if agg_as <= 0xFFFF else AS_TRANS)
        _put_address(head, aggregator[1])
        _close_attribute(head, start)
    if communities:
        _put_u32_attribute(head, 0xC0, 8, communities)
    if originator is not None:
        _put(head, b"\x80\x09\x04", 3)
        _put_address(head, originator)
    if clusters:
        if type(clusters) is not tuple:
            raise _Unusual()
        start = _open_attribute(head, 0x80, 10)
        for address in <tuple>clusters:
            _put_address(head, address)
        _close_attribute(head, start)
    if extended:
        if type(extended) is not tuple:
            raise _Unusual()
        start = _open_attribute(tail, 0xC0, 16)
        for value in <tuple>extended:
            ext = _unsigned(value, 0xFFFFFFFFFFFFFFFF)
            _put_u32(tail, <uint32_t>(ext >> 32))
            _put_u32(tail, <uint32_t>ext)
        _close_attribute(tail, start)
    if not asn4:
        if _has_wide_as(as_path):
            start = _open_attribute(tail, 0xC0, 17)
            _put_as_path(tail, as_path, True, True)
            _close_attribute(tail, start)
        if aggregator is not None and aggregator[0] > 0xFFFF:
            _put(tail, b"\xc0\x12\x08", 3)
            _put_u32(tail, _u32(aggregator[0]))
            _put_address(tail, aggregator[1])
    if large:
        if type(large) is not tuple:
            raise _Unusual()
        start = _open_attribute(tail, 0xC0, 32)
        for triple in <tuple>large:
            if type(triple) is not tuple or len(<tuple>triple) != 3:
                raise _Unusual()
            for value in <tuple>triple:
                _put_u32(tail, _u32(value))
        _close_attribute(tail, start)
    if unknown:
        if type(unknown) is not tuple:
            raise _Unusual()
        for raw in <tuple>unknown:
            if type(raw) is not tuple or len(<tuple>raw) != 3 or type(raw[2]) is not bytes:
                raise _Unusual()
            flags = _u8(raw[0])
            # an optional transitive attribute not interpreted is passed on marked Partial (RFC 4271 §5)
            start = _open_attribute(tail, (flags | 0x20) if flags & 0x40 else flags, _u8(raw[1]))
            _put(tail, PyBytes_AS_STRING(raw[2]), PyBytes_GET_SIZE(raw[2]))
            _close_attribute(tail, start)
    return 0


# ---- messages ------------------------------------------------------------------------------

cdef list _chunk_sizes(list keys, Py_ssize_t room):
    """update._pack as run lengths: how many keys, and how many octets, go in each message."""
    cdef list runs = []
    cdef Py_ssize_t size = 0, count = 0, klen
    if room <= 0:
        raise _Unusual()
    for key in keys:
        if type(key) is not bytes:
            raise _Unusual()
        klen = PyBytes_GET_SIZE(key)
        if klen > room:
            raise _Unusual()
        if size + klen > room:
            runs.append((count, size))
            count = size = 0
        count += 1
        size += klen
    if count:
        runs.append((count, size))
    return runs


cdef inline uint8_t* _header(bytes message, Py_ssize_t length):
    cdef uint8_t* out = <uint8_t*>PyBytes_AS_STRING(message)
    memset(out, 0xFF, 16)
    out[16] = <uint8_t>(length >> 8)
    out[17] = <uint8_t>length
    out[18] = 2
    return out + HEADER_LEN


cdef Py_ssize_t _put_keys(uint8_t* out, list keys, Py_ssize_t first, Py_ssize_t count):
    cdef Py_ssize_t n, pos = 0
    for i in range(first, first + count):
        key = keys[i]
        n = PyBytes_GET_SIZE(key)
        memcpy(out + pos, PyBytes_AS_STRING(key), n)
        pos += n
    return pos


cdef object _ctx = None
cdef Py_ssize_t _max_body = 0
cdef bint _asn4 = True
cdef object _mp_family = None  # the MP_REACH_NLRI fixed part last written, and for what
cdef object _mp_next_hop = None
cdef bytes _mp_head = None


cdef int _load_context(object ctx) except -1:
    global _ctx, _max_body, _asn4, _mp_family
    if ctx is not _ctx:
        _max_body = ctx.max_message_len - HEADER_LEN
        _asn4 = bool(ctx.asn4)
        _ctx = ctx
        _mp_family = None
    return 0


cdef list _ipv4_updates(object attributes, object next_hop, list keys):
    cdef Buf attrs
    attrs.data = NULL
    attrs.size = attrs.cap = 0
    cdef Py_ssize_t first = 0, count, size, length
    cdef list out = []
    cdef uint8_t* p
    try:
        _put_parts(&attrs, &attrs, attributes, next_hop, _asn4)
        if attrs.size > 0xFFFF:
            raise _Unusual()
        for count, size in _chunk_sizes(keys, _max_body - 4 - attrs.size):
            length = HEADER_LEN + 4 + attrs.size + size
            message = PyBytes_FromStringAndSize(NULL, length)
            p = _header(message, length)
            p[0] = p[1] = 0
            p[2] = <uint8_t>(attrs.size >> 8)
            p[3] = <uint8_t>attrs.size
            memcpy(p + 4, attrs.data, attrs.size)
            _put_keys(p + 4 + attrs.size, keys, first, count)
            first += count
            out.append(message)
    finally:
        PyMem_Free(attrs.data)
    return out


cdef list _mp_updates(object attributes, object family, object next_hop, list keys, object ctx):
    global _mp_family, _mp_next_hop, _mp_head
    cdef Buf head, tail
    head.data = tail.data = NULL
    head.size = head.cap = tail.size = tail.cap = 0
    cdef Py_ssize_t first = 0, count, size, length, mp_len, attrs_len, mp_head_len, pos, room
    cdef list out = []
    cdef uint8_t* p
    try:
        _put_parts(&head, &tail, attributes, None, _asn4)
        if _mp_family is None or not (family is _mp_family or family == _mp_family) \
                or not (next_hop is _mp_next_hop or next_hop == _mp_next_hop):
            _mp_head = _py_mp_reach_header(family, _py_encode_next_hop(next_hop, family, ctx))
            _mp_family = family
            _mp_next_hop = next_hop
        mp_head = _mp_head
        mp_head_len = PyBytes_GET_SIZE(mp_head)
        room = _max_body - 4 - head.size - tail.size - 4 - mp_head_len
        if room + 1 + mp_head_len <= 255:  # every MP_REACH_NLRI fits in a 3-octet attribute header
            room += 1
        for count, size in _chunk_sizes(keys, room):
            mp_len = mp_head_len + size
            attrs_len = head.size + (4 if mp_len > 255 else 3) + mp_len + tail.size
            if attrs_len > 0xFFFF:
                raise _Unusual()
            length = HEADER_LEN + 4 + attrs_len
            message = PyBytes_FromStringAndSize(NULL, length)
            p = _header(message, length)
            p[0] = p[1] = 0
            p[2] = <uint8_t>(attrs_len >> 8)
            p[3] = <uint8_t>attrs_len
            memcpy(p + 4, head.data, head.size)
            pos = 4 + head.size
            if mp_len > 255:
                p[pos] = 0x90
                p[pos + 1] = 14
                p[pos + 2] = <uint8_t>(mp_len >> 8)
                p[pos + 3] = <uint8_t>mp_len
                pos += 4
            else:
                p[pos] = 0x80
                p[pos + 1] = 14
                p[pos + 2] = <uint8_t>mp_len
                pos += 3
            memcpy(p + pos, PyBytes_AS_STRING(mp_head), mp_head_len)
            pos += mp_head_len
            pos += _put_keys(p + pos, keys, first, count)
            memcpy(p + pos, tail.data, tail.size)
            first += count
            out.append(message)
    finally:
        PyMem_Free(head.data)
        PyMem_Free(tail.data)
    return out


def encode_updates(attributes, family, next_hop, keys, ctx):
    """update.encode_updates: UPDATE messages announcing ``keys`` with one attribute set."""
    if not keys:
        return []
    if (type(attributes) is not PathAttributes or type(keys) is not list or type(next_hop) is not tuple
            or not next_hop or type(next_hop[0]) is not str or type(family) is not tuple):
        return _py_encode_updates(attributes, family, next_hop, keys, ctx)
    _load_context(ctx)
    try:
        if family == (1, 1) and ":" not in next_hop[0]:
            if len(next_hop) != 1:
                raise _Unusual()
            return _ipv4_updates(attributes, next_hop[0], keys)
        return _mp_updates(attributes, family, next_hop, keys, ctx)
    except _Unusual:
        return _py_encode_updates(attributes, family, next_hop, keys, ctx)


def encode_withdrawals(family, keys, ctx):
    """update.encode_withdrawals: UPDATE messages withdrawing ``keys``."""
    cdef Py_ssize_t first = 0, count, size, length, mp_len
    cdef uint32_t afi, safi
    cdef uint8_t* p
    if not keys:
        return []
    if type(keys) is not list or type(family) is not tuple or len(family) != 2:
        return _py_encode_withdrawals(family, keys, ctx)
    _load_context(ctx)
    cdef list out = []
    try:
        if family == (1, 1):
            for count, size in _chunk_sizes(keys, _max_body - 4):
                length = HEADER_LEN + 4 + size
                message = PyBytes_FromStringAndSize(NULL, length)
                p = _header(message, length)
                p[0] = <uint8_t>(size >> 8)
                p[1] = <uint8_t>size
                _put_keys(p + 2, keys, first, count)
                p[2 + size] = p[3 + size] = 0
                first += count
                out.append(message)
            return out
        afi = <uint32_t>_unsigned(family[0], 0xFFFF)
        safi = _u8(family[1])
        for count, size in _chunk_sizes(keys, _max_body - 4 - 4 - 3):
            mp_len = 3 + size
            length = HEADER_LEN + 4 + (4 if mp_len > 255 else 3) + mp_len
            message = PyBytes_FromStringAndSize(NULL, length)
            p = _header(message, length)
            p[0] = p[1] = 0
            p[2] = <uint8_t>((length - HEADER_LEN - 4) >> 8)
            p[3] = <uint8_t>(length - HEADER_LEN - 4)
            if mp_len > 255:
                p[4], p[5], p[6], p[7] = 0x90, 15, <uint8_t>(mp_len >> 8), <uint8_t>mp_len
                p += 8
            else:
                p[4], p[5], p[6] = 0x80, 15, <uint8_t>mp_len
                p += 7
            p[0], p[1], p[2] = <uint8_t>(afi >> 8), <uint8_t>afi, <uint8_t>safi
            _put_keys(p + 3, keys, first, count)
            first += count
            out.append(message)
        return out
    except _Unusual:
        return _py_encode_withdrawals(family, keys, ctx)
