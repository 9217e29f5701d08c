import json
import os
import zipfile

import numpy as np
import pytest
from reference import multi_head

import attnviz
from attnviz import ConfigError, RunError, attend, load, save
from attnviz.export import NPZ_KEYS, atomic_open

ARRAYS = ("x", "w_q", "w_k", "w_v", "w_o", "allowed", "weights", "head_outputs", "output")


@pytest.fixture
def trace():
    return attend("¿Qué es la atención?", heads=2, d_model=8, mask=["causal", "window=3"], bos=True)


def test_npz_holds_exactly_the_documented_keys(trace, tmp_path):
    save(trace, tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(NPZ_KEYS)
        assert npz["tokens"].dtype.kind == "U"
        assert npz["tokens"].tolist() == ["<bos>", "¿", "Qué", "es", "la", "atención", "?"]
        config = json.loads(str(npz["config"]))
        assert config["mask"] == ["causal", "window=3"] and config["heads"] == 2 and config["bos"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_npz_round_trip_is_bit_for_bit(tmp_path, dtype):
    trace = attend("a b a\x00", tokenizer="char", heads=2, d_model=4, dtype=dtype, pad_to=6)
    save(trace, tmp_path / "run.npz")
    back = load(tmp_path / "run.npz")
    assert back.tokens == trace.tokens  # the trailing NUL of a token survives NumPy's strings
    assert back.config == trace.config
    for name in ARRAYS:
        a, b = getattr(trace, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), name


def test_an_independent_implementation_reproduces_the_export(trace, tmp_path):
    save(trace, tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz", allow_pickle=False) as npz:
        ref = multi_head(
            npz["x"], npz["w_q"], npz["w_k"], npz["w_v"], npz["w_o"], npz["allowed"].tolist()
        )
        for name in ("weights", "head_outputs", "output"):
            np.testing.assert_allclose(npz[name], ref[name], rtol=1e-12, atol=1e-12)


def test_pytorch_reproduces_the_export_when_installed(trace, tmp_path):
    torch = pytest.importorskip("torch")
    save(trace, tmp_path / "run.npz")
    npz = {
        k: torch.from_numpy(v)
        for k, v in np.load(tmp_path / "run.npz").items()
        if k not in ("tokens", "config")
    }
    q, k, v = (npz["x"] @ npz[w] for w in ("w_q", "w_k", "w_v"))  # (H,T,Dh)
    s = (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).masked_fill(~npz["allowed"], float("-inf"))
    weights = torch.softmax(s, dim=-1)
    out = (weights @ v).transpose(0, 1).reshape(len(trace.tokens), -1) @ npz["w_o"]
    np.testing.assert_allclose(weights.numpy(), trace.weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), trace.output, rtol=1e-12, atol=1e-12)


def test_json_holds_the_numbers_exactly(trace, tmp_path):
    save(trace, tmp_path / "run.json")
    data = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert {"tokens", "config", "allowed", "weights", "output"} <= set(data)
    assert data["tokens"] == trace.texts
    assert data["allowed"] == trace.allowed.tolist()
    assert np.array_equal(np.array(data["weights"]), trace.weights)  # exact, not approximately
    assert np.array_equal(np.array(data["output"]), trace.output)
    assert data["config"] == trace.config.to_dict()


@pytest.mark.parametrize("name", ["run.npz", "run.json"])
def test_same_run_same_bytes(tmp_path, name):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        save(attend("The cat sat on the mat", heads=2, d_model=8), tmp_path / folder / name)
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_npz_entries_carry_no_clock(trace, tmp_path):
    save(trace, tmp_path / "run.npz")
    with zipfile.ZipFile(tmp_path / "run.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "run.npz"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_open(target) as f:
        f.write(b"partial")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["run.npz"]


def test_written_files_get_ordinary_permissions(trace, tmp_path):
    save(trace, tmp_path / "run.npz")
    mode = (tmp_path / "run.npz").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_bad_destinations(trace, tmp_path):
    with pytest.raises(ConfigError, match=r"writes \.npz or \.json here"):
        save(trace, tmp_path / "run.txt")
    with pytest.raises(RunError, match="does not exist"):
        save(trace, tmp_path / "missing" / "run.npz")
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(RunError, match="is a folder"):
        save(trace, tmp_path / "dir.npz")


def test_load_rejects_what_is_not_a_run(trace, tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "text.npz")
    save(trace, tmp_path / "run.npz")
    arrays = dict(np.load(tmp_path / "run.npz"))
    np.savez(tmp_path / "short.npz", **{k: v for k, v in arrays.items() if k != "weights"})
    with pytest.raises(ConfigError, match="missing weights"):
        load(tmp_path / "short.npz")
    np.savez(tmp_path / "shape.npz", **{**arrays, "weights": arrays["weights"][:, :2]})
    with pytest.raises(ConfigError, match="weights has shape"):
        load(tmp_path / "shape.npz")
    np.savez(tmp_path / "pickle.npz", **{**arrays, "weights": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "pickle.npz")


def test_public_names_are_listed():
    for name in attnviz.__all__:
        assert hasattr(attnviz, name)
