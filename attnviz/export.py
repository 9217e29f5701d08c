"""Write a Trace to NPZ or JSON (and read an NPZ back), atomically and byte for byte the same.

Every file goes to a temporary file in the destination's folder and is renamed over the
destination only once it is complete, so a failed or interrupted run leaves no partial file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import ConfigError, RunError
from .tokens import Token
from .trace import AttentionConfig, ModelInfo, Trace
from .views.labels import plain, write_json

NPZ_KEYS = (
    "tokens", "x", "w_q", "w_k", "w_v", "w_o", "allowed", "weights", "head_outputs", "output",
    "config",
)  # fmt: skip
# written only when the run plants a head (it is zero otherwise): the position bias (H, T, T)
BIAS_KEY = "bias"
# written only for a run of a checkpoint: every layer's weights, the projections' biases,
# the tokens as the model spells them and its config.json (and "token_ids", their ids)
MODEL_KEYS = ("layer_weights", "b_q", "b_k", "b_v", "b_o", "raw_tokens", "model_config")
# written only when the model has them: Q and K as its scores use them (rotary embeddings,
# q/k norms), and each layer's own mask when its layers differ
ROTATED_KEYS = ("q_rot", "k_rot")
LAYER_MASKS = "layer_allowed"
# written only for cross-attention: the source's tokens (its keys), as shown and as the model
# spells them, and the encoder's output the keys and values are made of
CROSS_KEYS = ("key_tokens", "key_raw", "memory")
EXPORT_FORMATS = (".npz", ".json")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold: no clock in the file


def check_output(path: str | os.PathLike[str], suffixes: tuple[str, ...]) -> Path:
    """Fail early, before any work: a wrong extension (ConfigError) or no such folder (RunError)."""
    p = Path(path)
    kinds = ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}" if len(suffixes) > 1 else suffixes[0]
    if p.is_dir():
        raise RunError(f"cannot write {str(p)!r}: it is a folder; name a file in it ({kinds})")
    if p.suffix.lower() not in suffixes:
        got = f"not {p.suffix}" if p.suffix else "it has no extension"
        raise ConfigError(f"cannot write {str(p)!r}: attnviz writes {kinds} here, {got}")
    if not p.parent.is_dir():
        raise RunError(f"cannot write {str(p)!r}: the folder {str(p.parent)!r} does not exist")
    return p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode(p: Path) -> int:
    """The permissions the written file gets: those of the file it replaces, else the usual
    ones (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(p).st_mode)
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path`` for binary writing; rename it to ``path`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path``,
    if it existed, is left as it was. Raises RunError when the file cannot be written.
    """
    p, tmp = Path(path), ""
    try:
        while True:  # the name is known before the file is made: a signal leaves no file
            tmp = _temporary_name(p)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                break
            except FileExistsError:
                tmp = ""  # another's
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, _mode(p))  # made 0600
        os.replace(tmp, p)
    except BaseException as e:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            raise RunError(f"cannot write {str(p)!r}: {e.strerror or e}") from e
        raise


def _temporary_name(p: Path) -> str:
    """A new name beside ``p``, short enough for any file system (255 bytes)."""
    import secrets

    return str(p.parent / f".{p.name[:40]}.{secrets.token_hex(6)}.tmp")


PIECE = 2**20  # characters encoded and written at a time


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text atomically, a piece at a time: a page of hundreds of megabytes is never
    held a second time, encoded whole."""
    with atomic_open(path) as f:
        for start in range(0, len(text), PIECE):
            f.write(text[start : start + PIECE].encode("utf-8"))


def _config_json(trace: Trace) -> str:
    d = trace.config.to_dict()
    d["token_spans"] = [[t.start, t.end] for t in trace.tokens]
    d["truncated"] = trace.truncated
    d["scale"] = trace.scale
    if trace.special_hidden:
        d["special_hidden"] = trace.special_hidden
    if trace.pieces_merged:
        d["pieces_merged"] = trace.pieces_merged
    if trace.key_tokens:
        d["key_spans"] = [[t.start, t.end] for t in trace.key_tokens]
    return json.dumps(d, ensure_ascii=False)


def save_npz(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write the NPZ: the arrays of NPZ_KEYS, loadable with ``np.load(allow_pickle=False)``,
    and ``bias`` when the run plants a head.

    The zip is written here rather than with ``np.savez``, which stamps the current time
    into each entry: these entries carry a fixed time, so the same run gives the same bytes.
    """
    import zipfile  # (only an NPZ needs it)

    arrays: dict[str, np.ndarray] = {"tokens": np.array(trace.texts, dtype=str)}
    arrays.update({name: getattr(trace, name) for name in NPZ_KEYS[1:-1]})
    arrays["config"] = np.array(_config_json(trace))
    if trace.config.planted or (trace.model is not None and trace.model.position_bias):
        arrays[BIAS_KEY] = np.ascontiguousarray(trace.bias)
    if trace.memory is not None and trace.model is not None:
        arrays["key_tokens"] = np.array(trace.key_texts, dtype=str)
        arrays["key_raw"] = np.array(trace.model.key_raw, dtype=str)
        arrays["key_ids"] = np.array(trace.model.key_ids, dtype=np.int64)
        arrays["memory"] = trace.memory
    if trace.model is not None:
        arrays["layer_weights"] = trace.model.layer_weights
        arrays.update({b: np.ascontiguousarray(getattr(trace, b)) for b in MODEL_KEYS[1:5]})
        arrays["raw_tokens"] = np.array(trace.model.raw_tokens, dtype=str)
        arrays["token_ids"] = np.array(trace.model.ids, dtype=np.int64)
        arrays.update({k: getattr(trace, k) for k in ROTATED_KEYS if getattr(trace, k) is not None})
        if trace.model.layer_allowed is not None:
            arrays[LAYER_MASKS] = trace.model.layer_allowed
        if trace.model.prompt_tokens:  # a generation: its prompt, its tokens, their chances
            P = trace.model.prompt_tokens
            arrays["prompt_ids"] = np.array(trace.model.ids[:P], dtype=np.int64)
            arrays["generated_ids"] = np.array(trace.model.ids[P:], dtype=np.int64)
            arrays["chosen_prob"] = np.array(trace.model.chosen_prob, dtype=np.float64)
        about = {"model_type": trace.model.model_type, "config": trace.model.config,
                 "kv_heads": trace.kv_heads, "qk_norm": trace.model.qk_norm,
                 "layer_masks": [list(m) for m in trace.model.layer_masks]}  # fmt: skip
        if trace.model.attention:
            about |= {"attention": trace.model.attention,
                      "position_bias": trace.model.position_bias}  # fmt: skip
        arrays["model_config"] = np.array(json.dumps(about, ensure_ascii=False))
    with atomic_open(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for name in arrays:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, arrays[name], allow_pickle=False)


def trace_json(trace: Trace) -> dict[str, Any]:
    """The JSON export of a run: the heatmap's JSON of every head, the output (T x D), and the
    position bias (H x T x T) when the run plants a head."""
    return dict(plain(_trace_data(trace)))


def _trace_data(trace: Trace) -> dict[str, Any]:
    from .views.heatmap import HeatmapView

    bias = {BIAS_KEY: trace.bias} if trace.config.planted else {}
    heads = list(range(trace.heads))
    return {**HeatmapView(trace, heads).json_data(), "output": trace.output, **bias}


def write_json_file(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as JSON (and a newline), atomically, its arrays a row at a time."""
    with atomic_open(path) as f:
        write_json(data, lambda piece: f.write(piece.encode("utf-8")))
        f.write(b"\n")


def save_json(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write the JSON view; numbers are written in full (shortest round-trip repr)."""
    write_json_file(path, _trace_data(trace))


def save(trace: Trace, path: str | os.PathLike[str]) -> None:
    """Write ``trace`` as NPZ or JSON, chosen by the extension of ``path``."""
    p = check_output(path, EXPORT_FORMATS)
    (save_npz if p.suffix.lower() == ".npz" else save_json)(trace, p)


DROPPED_NULS = 64  # the most NUL characters a token's end may have lost in a NumPy array


def _tokens(texts: list[str], spans: list[list[int]]) -> tuple[Token, ...]:
    if len(texts) != len(spans):
        raise ConfigError(f"{len(texts)} tokens but {len(spans)} token spans")
    tokens = []
    for text, (start, end) in zip(texts, spans, strict=True):
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end
                and end - start - len(text) <= DROPPED_NULS):  # fmt: skip
            raise ConfigError(f"the span [{start}, {end}] does not fit its token {text!r}")
        # NumPy's unicode arrays drop trailing NUL characters: the span says how many there were
        text = text + "\0" * (end - start - len(text)) if end > start else text
        tokens.append(Token(text, start, end, special=end == start))
    return tuple(tokens)


def _model_info(npz: Any, name: str, arrays: dict[str, Any]) -> ModelInfo:
    """What a checkpoint's run adds, read back (its biases and turned Q and K into ``arrays``)."""
    missing = [k for k in MODEL_KEYS if k not in npz.files]
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}, which a checkpoint's run has")
    arrays.update({b: npz[b] for b in MODEL_KEYS[1:5]})
    arrays.update({k: npz[k] for k in ROTATED_KEYS if k in npz.files})
    info = json.loads(str(npz["model_config"][()]))
    raw = tuple(str(t) for t in npz["raw_tokens"])
    ids = tuple(int(i) for i in npz["token_ids"]) if "token_ids" in npz.files else ()
    masks = npz[LAYER_MASKS] if LAYER_MASKS in npz.files else None
    made = "prompt_ids" in npz.files and "chosen_prob" in npz.files
    generation = (len(npz["prompt_ids"]), tuple(float(p) for p in npz["chosen_prob"])
                  ) if made else (0, ())  # fmt: skip
    cross = "memory" in npz.files and all(k in npz.files for k in (*CROSS_KEYS, "key_ids"))
    key_raw = tuple(str(t) for t in npz["key_raw"]) if cross else ()
    key_ids = tuple(int(i) for i in npz["key_ids"]) if cross else ()
    return ModelInfo(name, info["model_type"], info["config"], raw, npz["layer_weights"], ids,
                     int(info.get("kv_heads", 0)), masks, bool(info.get("qk_norm", False)),
                     tuple(tuple(m) for m in info.get("layer_masks", ())), *generation,
                     attention=str(info.get("attention", "")), key_raw=key_raw, key_ids=key_ids,
                     position_bias=bool(info.get("position_bias", False)))  # fmt: skip


def _check_members(path: str | os.PathLike[str], memory_budget: int) -> None:
    """ConfigError unless ``path`` is a zip of .npy arrays that fit the bytes their members
    unpack to, and those add up to no more than ``memory_budget`` (a zip bomb is refused
    before anything is unpacked: the members' sizes are read from the zip's directory)."""
    import zipfile  # (only an NPZ needs it)

    with zipfile.ZipFile(path) as z:
        total = sum(info.file_size for info in z.infolist())
        if total > memory_budget:
            raise ConfigError(f"its arrays unpack to {total:,} bytes, over `memory_budget="
                              f"{memory_budget}`")  # fmt: skip
        fmt = np.lib.format
        for info in z.infolist():
            with z.open(info) as f:
                major, _ = fmt.read_magic(f)
                read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
                shape, _, dtype = read(f, max_header_size=10_000)
                if dtype.hasobject:
                    raise ConfigError(f"{info.filename} holds Python objects (a pickle)")
                need = math.prod(shape) * dtype.itemsize
                if need > info.file_size:
                    raise ConfigError(f"{info.filename} claims {shape} of {dtype}, more than "
                                      f"its {info.file_size:,} bytes")  # fmt: skip


def load(path: str | os.PathLike[str], memory_budget: int = 2 * 2**30) -> Trace:
    """Rebuild the Trace saved by ``save_npz``, bit for bit. Never unpickles.

    Raises ConfigError for a file that is missing, not an NPZ, not a consistent run, or whose
    arrays unpack to more than ``memory_budget`` bytes.
    """
    name = str(path)
    try:
        return _load(path, memory_budget)
    except OSError as e:
        raise ConfigError(f"cannot read {name!r}: {e.strerror or e}") from e
    except ConfigError as e:
        raise ConfigError(f"cannot read {name!r}: {e}") from None
    except Exception as e:  # a file made to break a parser may raise anything it can
        raise ConfigError(f"cannot read {name!r}: not a consistent attnviz NPZ "
                          f"({type(e).__name__}: {e})") from e  # fmt: skip


def _load(path: str | os.PathLike[str], memory_budget: int) -> Trace:
    _check_members(path, memory_budget)
    npz = np.load(path, allow_pickle=False)
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ConfigError("not an NPZ archive")
    with npz:
        missing = [k for k in NPZ_KEYS if k not in npz.files]
        if missing:
            raise ConfigError(f"missing {', '.join(missing)}")
        arrays: dict[str, Any] = {k: npz[k] for k in NPZ_KEYS}
        config = json.loads(str(arrays.pop("config")[()]))
        if BIAS_KEY in npz.files:
            arrays[BIAS_KEY] = npz[BIAS_KEY]
        elif config.get("plant"):
            raise ConfigError("missing bias, which a run with planted heads has")
        spans = config.pop("token_spans")
        key_spans = config.pop("key_spans", None)
        if key_spans is not None:
            if "memory" not in npz.files or "key_tokens" not in npz.files:
                raise ConfigError("missing memory or key_tokens, which cross-attention has")
            arrays["memory"] = npz["memory"]
            arrays["key_tokens"] = _tokens([str(t) for t in npz["key_tokens"]], key_spans)
        truncated = int(config.pop("truncated", 0))
        special_hidden = int(config.pop("special_hidden", 0))
        pieces_merged = int(config.pop("pieces_merged", 0))
        if "scale" in config:  # the factor on the scores (files of 0.1.0: 1/√d_k)
            arrays["scale"] = float(config.pop("scale"))
        tokens = _tokens([str(t) for t in arrays.pop("tokens")], spans)
        model = _model_info(npz, config["model"], arrays) if config.get("model") else None
        return Trace(tokens=tokens, config=AttentionConfig.from_dict(config),
                     truncated=truncated, model=model, special_hidden=special_hidden,
                     pieces_merged=pieces_merged, **arrays)  # fmt: skip


def save_generation(view: Any, path: str | os.PathLike[str]) -> None:
    """Write a GenerationView's run: NPZ (every array of the whole sequence's run, with
    prompt_ids, generated_ids and chosen_prob), or JSON (its view's JSON and layer_weights)."""
    p = check_output(path, EXPORT_FORMATS)
    if p.suffix.lower() == ".npz":
        save_npz(view.trace, p)
    else:
        write_json_file(p, {**view.json_data(), "layer_weights": view.trace.layer_weights})
