"""Arrow IPC stream messages of ``list<int>`` columns, encoded here (no pyarrow needed).

An Arrow IPC stream is a sequence of encapsulated messages: ``0xFFFFFFFF``, the int32
length of what follows up to the body, a flatbuffer ``Message`` (a ``Schema`` or a
``RecordBatch``) padded with zeros to a multiple of 8 bytes, then the message body (the
record batch's buffers, each padded to 8 bytes); ``0xFFFFFFFF 0x00000000`` ends the stream
(Arrow columnar format, "Encapsulated message format"; tables of ``format/Schema.fbs`` and
``format/Message.fbs``, metadata version V5).

The flatbuffers are built the way Arrow C++ builds them (the same tables, fields added in
the same order, a builder that lays bytes out like ``flatbuffers::FlatBufferBuilder``:
back to front, default values left out, identical vtables shared), so the stream is byte
for byte what ``pyarrow.ipc.new_stream`` writes for the same schema and batches (tested
against it). Only what alignkit writes is covered: non-nullable ``list<T>`` columns of
integers T, no validity bitmaps (null count 0: a buffer entry of length 0), one schema
metadata dict.

    >>> msg = schema_message([("ids", "uint16")], {"k": "v"})
    >>> msg[:4], len(msg) % 8
    (b'\\xff\\xff\\xff\\xff', 0)
    >>> batch_message(2, [(3, 6)])[1]  # body bytes: 2 rows, 3 uint16 values
    24
"""

from __future__ import annotations

import struct
from typing import Final

from alignkit.io.flat import WIDTHS

#: ``dtype`` name -> (bit width, signed) of the Arrow ``Int`` type (the dtypes of
#: :data:`alignkit.io.flat.WIDTHS`, the one table of integer dtypes).
INT_TYPES: Final = {dtype: (8 * width, not dtype.startswith("u")) for dtype, width in WIDTHS.items()}
#: The end-of-stream marker: a continuation marker and a message length of 0.
END_OF_STREAM: Final = b"\xff\xff\xff\xff\x00\x00\x00\x00"

_CONTINUATION: Final = b"\xff\xff\xff\xff"
_V5: Final = 4  # MetadataVersion.V5
_HEADER_SCHEMA: Final = 1  # MessageHeader.Schema
_HEADER_RECORD_BATCH: Final = 3  # MessageHeader.RecordBatch
_TYPE_INT: Final = 2  # Type.Int
_TYPE_LIST: Final = 12  # Type.List


class _Builder:
    """A flatbuffer built back to front, laid out as ``flatbuffers::FlatBufferBuilder`` does.

    An object's position is its distance from the end of the buffer (``len(buf)`` right
    after it was written), as in the C++ builder's ``GetSize()``.
    """

    def __init__(self) -> None:
        self.buf = bytearray()
        self.minalign = 1
        self.vtables: list[int] = []  # positions of the vtables written so far
        self.fields: list[tuple[int, int]] = []  # (vtable slot byte offset, position) of the open table
        self.max_slot = 0

    def _front(self, data: bytes) -> None:
        self.buf[0:0] = data

    def align(self, size: int) -> None:
        """Zero padding so that the next ``size``-byte scalar is aligned."""
        self.minalign = max(self.minalign, size)
        self._front(bytes(-len(self.buf) % size))

    def prealign(self, length: int, alignment: int) -> None:
        """Zero padding so that ``alignment`` holds once ``length`` more bytes are written."""
        if length == 0:
            return
        self.minalign = max(self.minalign, alignment)
        self._front(bytes(-(len(self.buf) + length) % alignment))

    def scalar(self, fmt: str, value: int) -> int:
        """Push one little-endian scalar (``struct`` format ``fmt``), aligned; its position."""
        data = struct.pack("<" + fmt, value)
        self.align(len(data))
        self._front(data)
        return len(self.buf)

    def refer(self, position: int) -> int:
        """The uoffset, written next, that points at the object at ``position``."""
        self.align(4)
        return len(self.buf) - position + 4

    def string(self, text: bytes) -> int:
        """A string (length, bytes, NUL); its position."""
        self.prealign(len(text) + 1, 4)
        self._front(text + b"\x00")
        return self.scalar("I", len(text))

    def offsets(self, positions: list[int]) -> int:
        """A vector of offsets to the objects at ``positions``; its position."""
        self.prealign(4 * len(positions), 4)
        for position in reversed(positions):
            self.scalar("I", self.refer(position))
        return self.scalar("I", len(positions))

    def structs(self, data: bytes, count: int, alignment: int) -> int:
        """A vector of ``count`` structs whose bytes are ``data``; its position."""
        self.prealign(len(data), 4)
        self.prealign(len(data), alignment)
        self._front(data)
        return self.scalar("I", count)

    def start(self) -> int:
        """Begin a table; its start position."""
        self.fields = []
        self.max_slot = 0
        return len(self.buf)

    def add(self, slot: int, fmt: str, value: int) -> None:
        """Add field ``slot`` of the open table, unless ``value`` is the default (0)."""
        if value:
            self._track(slot, self.scalar(fmt, value))

    def add_offset(self, slot: int, position: int) -> None:
        """Add field ``slot``: the offset of the object at ``position`` (0: absent)."""
        if position:
            self._track(slot, self.scalar("I", self.refer(position)))

    def _track(self, slot: int, position: int) -> None:
        self.fields.append((4 + 2 * slot, position))
        self.max_slot = max(self.max_slot, 4 + 2 * slot)

    def end(self, start: int) -> int:
        """Close the table begun at ``start``: its vtable (or an identical earlier one); its position."""
        table = self.scalar("i", 0)
        vtable = bytearray(max(self.max_slot + 2, 4))
        struct.pack_into("<HH", vtable, 0, len(vtable), table - start)
        for slot, position in self.fields:
            struct.pack_into("<H", vtable, slot, table - position)
        used = 0
        for earlier in self.vtables:
            at = len(self.buf) - earlier
            if self.buf[at : at + len(vtable)] == vtable:
                used = earlier
                break
        if not used:
            self._front(bytes(vtable))
            used = len(self.buf)
            self.vtables.append(used)
        struct.pack_into("<i", self.buf, len(self.buf) - table, used - table)
        return table

    def finish(self, root: int) -> bytes:
        """The finished buffer, ``root`` its root table."""
        self.prealign(4, self.minalign)
        self.scalar("I", self.refer(root))
        return bytes(self.buf)


def _table(fbb: _Builder, fields: list[tuple[int, str, int]]) -> int:
    """A table whose fields ``(slot, format, value)`` are added in the given order
    (``"o"``: an offset to the object at ``value``)."""
    start = fbb.start()
    for slot, fmt, value in fields:
        if fmt == "o":
            fbb.add_offset(slot, value)
        else:
            fbb.add(slot, fmt, value)
    return fbb.end(start)


def _field(fbb: _Builder, name: str, dtype: str) -> int:
    """A nullable ``list<dtype>`` Field whose nullable child is named ``item`` (pyarrow's ``list_``)."""
    if dtype not in INT_TYPES:
        raise ValueError(f"column {name!r}: dtype {dtype!r} is not an integer type ({', '.join(INT_TYPES)})")
    bits, signed = INT_TYPES[dtype]
    # Field: name 0, nullable 1, type_type 2, type 3, dictionary 4, children 5, custom_metadata 6
    int_type = _table(fbb, [(0, "i", bits), (1, "B", int(signed))])
    item_name = fbb.string(b"item")
    no_children = fbb.offsets([])
    item = _table(fbb, [(5, "o", no_children), (3, "o", int_type), (0, "o", item_name),
                        (2, "B", _TYPE_INT), (1, "B", 1)])
    list_type = _table(fbb, [])
    fb_name = fbb.string(name.encode("utf-8"))
    children = fbb.offsets([item])
    return _table(fbb, [(5, "o", children), (3, "o", list_type), (0, "o", fb_name),
                        (2, "B", _TYPE_LIST), (1, "B", 1)])


def _message(fbb: _Builder, header_type: int, header: int, body_length: int) -> bytes:
    """The encapsulated Message: marker, length, flatbuffer padded to 8 bytes."""
    # Message: version 0, header_type 1, header 2, bodyLength 3, custom_metadata 4
    root = _table(fbb, [(3, "q", body_length), (2, "o", header), (0, "h", _V5), (1, "B", header_type)])
    flat = fbb.finish(root)
    padded = -(-(len(flat) + 8) // 8) * 8
    return b"".join([_CONTINUATION, struct.pack("<i", padded - 8), flat, bytes(padded - 8 - len(flat))])


def schema_message(columns: list[tuple[str, str]], metadata: dict[str, str]) -> bytes:
    """The Schema message of ``list<dtype>`` columns ``(name, dtype)`` with schema ``metadata``.

        >>> len(schema_message([], {}))
        72

    Raises:
        ValueError: a dtype that is not one of :data:`INT_TYPES`.
    """
    fbb = _Builder()
    fields = [_field(fbb, name, dtype) for name, dtype in columns]
    fb_fields = fbb.offsets(fields)
    pairs = []
    for key, value in metadata.items():
        fb_key = fbb.string(key.encode("utf-8"))
        fb_value = fbb.string(value.encode("utf-8"))
        pairs.append(_table(fbb, [(1, "o", fb_value), (0, "o", fb_key)]))  # KeyValue: key 0, value 1
    fb_metadata = fbb.offsets(pairs)
    # Schema: endianness 0 (Little: the default), fields 1, custom_metadata 2, features 3
    schema = _table(fbb, [(2, "o", fb_metadata), (1, "o", fb_fields)])
    return _message(fbb, _HEADER_SCHEMA, schema, 0)


def batch_message(rows: int, columns: list[tuple[int, int]]) -> tuple[bytes, int]:
    """The RecordBatch message of ``rows`` rows of ``list`` columns, and its body's length.

    ``columns`` holds, per column, ``(values, nbytes)``: how many values its rows hold and
    the size of its values buffer as written (it may hold more: pyarrow sends the bytes after
    a sliced buffer as padding). The body is, per column, an empty validity buffer, the
    int32 offsets (``rows + 1``), an empty validity buffer, the values; each buffer starts
    at a multiple of 8 bytes (zero padding after it).

        >>> batch_message(2, [(3, 6)])[1]  # offsets 12 bytes (+4 padding), values 6 (+2)
        24
    """
    nodes = bytearray()
    buffers = bytearray()
    offsets_len = 4 * (rows + 1)
    at = 0
    for values, nbytes in columns:
        nodes += struct.pack("<qqqq", rows, 0, values, 0)
        after = at + -(-offsets_len // 8) * 8
        buffers += struct.pack("<qqqqqqqq", at, 0, at, offsets_len, after, 0, after, nbytes)
        at = after + -(-nbytes // 8) * 8
    fbb = _Builder()
    fb_nodes = fbb.structs(bytes(nodes), len(nodes) // 16, 8)
    fb_buffers = fbb.structs(bytes(buffers), len(buffers) // 16, 8)
    # RecordBatch: length 0, nodes 1, buffers 2, compression 3, variadicBufferCounts 4
    batch = _table(fbb, [(0, "q", rows), (2, "o", fb_buffers), (1, "o", fb_nodes)])
    return _message(fbb, _HEADER_RECORD_BATCH, batch, at), at
