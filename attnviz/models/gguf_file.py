"""A GGUF file (llama.cpp, Ollama, LM Studio): its header read and checked, its tensors
dequantised one at a time with the ``gguf`` package's own quantisation code.

The layout (version 2 and 3, little-endian): "GGUF", the version, the number of tensors and
of metadata entries; the entries (a key, a type, a value: numbers, strings, arrays of them);
each tensor's name, dimensions (innermost first), ggml type and offset; then, aligned, the
tensor data. The header is read here rather than with ``gguf.GGUFReader``, which builds
two NumPy views for every string of a vocabulary (5 s for the 49,152 tokens and 48,900 merges
of SmolLM2) and trusts the counts it reads. Every count, length and offset is checked against
the bytes the file has before it is used: nothing past the file's end is ever read.
"""

from __future__ import annotations

import mmap
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..trace import LARGEST
from .files import need

MAGIC = b"GGUF"
VERSIONS = (2, 3)
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_DEPTH = 4  # arrays of arrays of ...: the files in use have none
# metadata value types (gguf's GGUFValueType): struct formats of the fixed-size ones
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
           11: "<q", 12: "<d"}  # fmt: skip
STRING, ARRAY = 8, 9
CHUNK = 8192  # blocks dequantised at a time: small enough to stay in cache, big enough for NumPy


def is_gguf(path: Path) -> bool:
    """Whether ``path`` is a file that starts as a GGUF file does (an Ollama blob has no
    extension)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class TensorInfo:
    """Where a tensor's bytes are and how they are stored: its shape in NumPy's order
    (outermost first, the reverse of the file's), ggml type, and byte span in the file."""

    name: str
    shape: tuple[int, ...]
    kind: int
    start: int
    nbytes: int

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class _Cursor:
    """Reads the header from the memory map, each read checked against the file's length."""

    def __init__(self, path: Path, buf: mmap.mmap) -> None:
        self.path, self.buf, self.pos = path, buf, 0

    def fail(self, what: str) -> ConfigError:
        return ConfigError(f"`model` {str(self.path)!r}: not a valid GGUF file ({what})")

    def take(self, n: int, what: str) -> int:
        """The position of the next ``n`` bytes, moving past them."""
        if n < 0 or self.pos + n > len(self.buf):
            raise self.fail(f"{what} runs past the end of the file, at byte {self.pos}")
        at, self.pos = self.pos, self.pos + n
        return at

    def scalar(self, fmt: str, what: str) -> Any:
        return struct.unpack_from(fmt, self.buf, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str) -> str:
        n = self.scalar("<Q", what)
        at = self.take(n, what)
        try:
            return self.buf[at : at + n].decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(f"{what} is not UTF-8") from None

    def value(self, kind: int, what: str, depth: int = 0) -> Any:
        """One metadata value of type ``kind`` (arrays of arrays at most MAX_DEPTH deep)."""
        if kind in SCALARS:
            return self.scalar(SCALARS[kind], what)
        if kind == STRING:
            return self.string(what)
        if kind != ARRAY:
            raise self.fail(f"{what} has the unknown value type {kind}")
        item, count = self.scalar("<I", what), self.scalar("<Q", what)
        if depth >= MAX_DEPTH:
            raise self.fail(f"{what} nests arrays more than {MAX_DEPTH} deep")
        least = struct.calcsize(SCALARS[item]) if item in SCALARS else 8
        if count * least > len(self.buf) - self.pos:
            raise self.fail(f"{what} claims {count:,} items, more than the file holds")
        if item in SCALARS:  # numbers: one view of the bytes, copied
            at = self.take(count * least, what)
            return np.frombuffer(self.buf, SCALARS[item], count, at).copy()
        if item == STRING:
            return self.strings(count, what)
        return [self.value(item, what, depth + 1) for _ in range(count)]

    def strings(self, count: int, what: str) -> list[str]:
        """``count`` strings one after the other (a vocabulary: the loop kept tight)."""
        buf, pos, end, unpack = self.buf, self.pos, len(self.buf), struct.Struct("<Q").unpack_from
        out = []
        try:
            for _ in range(count):
                (n,) = unpack(buf, pos)
                pos += 8
                if pos + n > end:
                    break
                out.append(buf[pos : pos + n].decode("utf-8"))
                pos += n
        except struct.error:  # fewer than 8 bytes left
            pos = end + 1
        except UnicodeDecodeError:
            raise self.fail(f"{what} holds a string that is not UTF-8") from None
        if len(out) < count:
            raise self.fail(f"{what} runs past the end of the file")
        self.pos = pos
        return out


@dataclass(frozen=True, eq=False)
class GGUF:
    """An opened GGUF file: its metadata (key -> value) and tensors (name -> TensorInfo)."""

    path: Path
    metadata: dict[str, Any]
    tensors: dict[str, TensorInfo]
    buf: mmap.mmap

    @classmethod
    def open(cls, path: Path) -> GGUF:
        try:
            with open(path, "rb") as f:
                buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as e:  # ValueError: an empty file cannot be mapped
            raise ConfigError(f"`model` {str(path)!r}: cannot read the file ({e})") from None
        c = _Cursor(path, buf)
        if buf[:4] != MAGIC:
            raise c.fail("it does not start with 'GGUF'")
        c.pos = 4
        version = c.scalar("<I", "the version")
        if version not in VERSIONS:
            what = "a big-endian file" if version.to_bytes(4, "big")[0] else f"version {version}"
            raise c.fail(f"{what}; attnviz reads little-endian versions 2 and 3")
        n_tensors, n_keys = c.scalar("<Q", "the tensor count"), c.scalar("<Q", "the key count")
        if n_tensors * 32 + n_keys * 13 > len(buf) - c.pos:  # the least an entry takes
            raise c.fail(f"it claims {n_tensors:,} tensors and {n_keys:,} metadata entries, "
                         "more than the file holds")  # fmt: skip
        metadata = {}
        for _ in range(n_keys):
            key = c.string("a metadata key")
            metadata[key] = c.value(c.scalar("<I", f"the type of {key!r}"), repr(key))
        infos = [_info(c) for _ in range(n_tensors)]
        align = metadata.get("general.alignment", 32)
        if not isinstance(align, int) or align < 1 or align & (align - 1):
            raise c.fail(f"general.alignment {align!r} is not a power of two")
        data = -(-c.pos // align) * align
        return cls(path, metadata, _placed(c, infos, data, align), buf)

    def fail(self, what: str) -> ConfigError:
        """The error of a file whose contents cannot be run."""
        return ConfigError(f"`model` {str(self.path)!r}: {what}")

    def whole(self, key: str, default: int | None = None, least: int = 1) -> int:
        """A whole-number entry of the metadata, checked to be of a size that can be run."""
        value = self.metadata.get(key, default)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise self.fail(f"metadata {key!r} must be a whole number, not {_short(value)}")
        if not least <= value <= LARGEST:
            raise self.fail(f"metadata {key!r} is {value:,}, not a size that can be run "
                            f"({least} to {LARGEST:,})")  # fmt: skip
        return int(value)

    def positive(self, key: str, default: float) -> float:
        """A number > 0 of the metadata."""
        value = self.metadata.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e300:
            raise self.fail(f"metadata {key!r} must be a number > 0, not {_short(value)}")
        return float(value)

    def read(self, info: TensorInfo, rows: list[int] | None = None) -> np.ndarray:
        """The tensor as float32 (only its ``rows``, outermost axis), dequantised by gguf."""
        raw = np.frombuffer(self.buf, np.uint8, info.nbytes, info.start)
        rowbytes = info.nbytes // info.shape[0]
        shape = info.shape if rows is None else (len(rows), *info.shape[1:])
        raw = raw.reshape(-1, rowbytes) if rows is None else raw.reshape(-1, rowbytes)[rows]
        return dequantised(raw, info.kind, self.path, info.name).reshape(shape)


def _short(value: Any) -> str:
    return f"an array of {len(value)}" if isinstance(value, (list, np.ndarray)) else repr(value)


def _info(c: _Cursor) -> tuple[str, tuple[int, ...], int, int]:
    """One tensor's entry: name, shape (NumPy's order), ggml type, offset in the data."""
    name = c.string("a tensor name")
    n = c.scalar("<I", f"the dimensions of {name!r}")
    if not 1 <= n <= MAX_DIMS:
        raise c.fail(f"tensor {name!r} has {n} dimensions (1 to {MAX_DIMS})")
    dims = tuple(int(c.scalar("<Q", f"the shape of {name!r}")) for _ in range(n))
    kind, offset = c.scalar("<I", f"the type of {name!r}"), c.scalar("<Q", f"{name!r}")
    return name, dims[::-1], kind, offset


def _placed(c: _Cursor, infos: list[tuple[str, tuple[int, ...], int, int]], data: int,
            align: int) -> dict[str, TensorInfo]:  # fmt: skip
    """Each tensor's byte span, checked: a known type, whole blocks, inside the file."""
    sizes = need("gguf").GGML_QUANT_SIZES  # type -> (elements, bytes) of a block
    names = {int(k): k.name for k in sizes}
    tensors: dict[str, TensorInfo] = {}
    for name, shape, kind, offset in infos:
        if kind not in names:
            raise c.fail(f"tensor {name!r} has the unknown ggml type {kind}")
        block, size = sizes[kind]
        if min(shape) < 1 or shape[-1] % block:
            raise c.fail(f"tensor {name!r} of shape {list(shape)} is not whole {names[kind]} "
                         f"blocks of {block}")  # fmt: skip
        nbytes = int(np.prod(shape, dtype=object)) // block * size
        if offset % align or data + offset + nbytes > len(c.buf):
            raise c.fail(f"tensor {name!r} ({nbytes:,} bytes at {data + offset:,}) runs past "
                         f"the end of the file ({len(c.buf):,} bytes)")  # fmt: skip
        if name in tensors:
            raise c.fail(f"tensor {name!r} is listed twice")
        tensors[name] = TensorInfo(name, shape, kind, data + offset, nbytes)
    return tensors


def type_name(kind: int) -> str:
    """The name of a ggml type: "Q4_1", "F32"."""
    return str(need("gguf").GGMLQuantizationType(kind).name)


POOL: ThreadPoolExecutor | None = None  # two threads dequantise a tensor's chunks side by side


def dequantised(raw: np.ndarray, kind: int, path: Path, name: str) -> np.ndarray:
    """Rows of raw ggml blocks as float32, (rows, elements of a row), by gguf's own code for
    the type: its class's ``dequantize_blocks`` (gguf.quants.Q4_1 …), a chunk of blocks at a
    time written in place (``gguf.dequantize`` groups 16 rows at a time and copies the result
    twice: three times as long), else ``gguf.dequantize`` (F32, F16)."""
    global POOL
    gguf = need("gguf")
    qtype = gguf.GGMLQuantizationType(kind)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = np.ascontiguousarray(raw).reshape(-1, size)
    out = np.empty((len(blocks), block), np.float32)
    kind_of = getattr(gguf.quants, qtype.name, None)
    try:
        if kind_of is None or not hasattr(kind_of, "dequantize_blocks"):
            w = gguf.dequantize(raw, qtype)  # F32: a view of the file, copied
            w = w if w.flags.writeable and w.dtype == np.float32 else np.array(w, np.float32)
            return w.reshape(len(raw), -1)
        kind_of.init_grid()  # the IQ types' lookup tables, made once

        def one(at: int) -> None:
            out[at : at + CHUNK] = kind_of.dequantize_blocks(blocks[at : at + CHUNK])

        if len(blocks) <= CHUNK:
            one(0)
        else:
            POOL = POOL or ThreadPoolExecutor(2, thread_name_prefix="dequantise")
            list(POOL.map(one, range(0, len(blocks), CHUNK)))
    except NotImplementedError:
        raise ConfigError(f"`model` {str(path)!r}: tensor {name!r} is {qtype.name}, which the "
                          "gguf package cannot dequantise") from None  # fmt: skip
    return out.reshape(raw.shape[0], -1)
