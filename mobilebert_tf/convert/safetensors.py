"""Read and write `.safetensors` files with numpy alone (no `safetensors` package needed).

The format: an 8-byte little-endian unsigned header length N, then N bytes of UTF-8 JSON
mapping each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets into
the byte buffer that follows the header; an optional `"__metadata__"` entry maps strings to
strings), then the buffer of raw little-endian, row-major tensor bytes.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from mobilebert_tf import fileio

# safetensors dtype name -> numpy dtype (little-endian). BF16 has no numpy dtype: it is read
# as its 16 raw bits and widened to float32 (exact: bf16 is the top half of a float32).
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {(dtype.kind, dtype.itemsize): name for name, dtype in _DTYPES.items()}
# A header longer than this is not a safetensors file (the reference implementation's limit).
_MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    """The file is not a well-formed safetensors file."""


def read_header(raw: bytes, path: str) -> tuple[dict, int]:
    """`(header without __metadata__, byte offset of the data buffer)` of the file `raw`
    read from `path`."""
    if len(raw) < 8:
        raise SafetensorsError(f"{path}: too short to be a safetensors file.")
    (length,) = struct.unpack("<Q", raw[:8])
    if length > _MAX_HEADER:
        raise SafetensorsError(f"{path}: header length {length} is implausible; not a "
                               "safetensors file?")
    try:
        header = json.loads(raw[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(f"{path}: header is not JSON ({error}).") from None
    header.pop("__metadata__", None)
    return header, 8 + length


def read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a numpy array (BF16 widened to float32)."""
    raw = fileio.read_bytes(path)
    header, start = read_header(raw, path)
    buffer = memoryview(raw)[start:]
    tensors = {}
    for name, info in header.items():
        dtype_name, shape = info["dtype"], tuple(info["shape"])
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(buffer):
            raise SafetensorsError(f"{path}: {name} has offsets {begin}..{end} outside the "
                                   f"{len(buffer)}-byte buffer.")
        data = buffer[begin:end]
        if dtype_name == "BF16":
            bits = np.frombuffer(data, np.dtype("<u2")).astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif dtype_name in _DTYPES:
            array = np.frombuffer(data, _DTYPES[dtype_name])
        else:
            raise SafetensorsError(f"{path}: {name} has unsupported dtype {dtype_name!r}.")
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise SafetensorsError(f"{path}: {name} holds {array.size} values for shape "
                                   f"{list(shape)}.")
        tensors[name] = array.reshape(shape).astype(array.dtype.newbyteorder("="))
    return tensors


def write_safetensors(path: str, tensors: dict[str, np.ndarray],
                      metadata: dict[str, str] | None = None) -> str:
    """Write `tensors` (numpy arrays of a dtype in the table above) to `path`."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        dtype_name = _NAMES.get((array.dtype.kind, array.dtype.itemsize))
        if dtype_name is None:
            raise SafetensorsError(f"Cannot write {name}: unsupported dtype {array.dtype}.")
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype_name, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # align the buffer to 8 bytes, as the reference does
    return fileio.write_bytes(path, b"".join([struct.pack("<Q", len(raw)), raw, *chunks]))
