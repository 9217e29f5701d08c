"""``generate``'s run: the checkpoint continues the prompt (the new text shown as it comes
when standard output is a terminal), then the whole sequence is run once more for the view."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import ConfigError, RunError
from ..pipeline import Limits, check_budget
from ..trace import AttentionConfig, Pretrained
from ..views.generation import GenerationView, StepChoice
from .app import progress
from .options import (
    FIGURE,
    PAGE,
    Options,
    all_layers,
    at_least_one,
    head_list,
    is_page,
    outputs,
    size,
)

EXPORTS = (".npz", ".json")


def checked(o: Options, format: str | None, formats: tuple[str, ...], top: int,
            step: int | None, n: int, temperature: float) -> tuple[str | None, bool]:  # fmt: skip
    """generate's options checked before any work: the --format shown (of ``formats``), and
    whether the tokens are shown as they come (on a terminal)."""
    acts = {"top": frozenset({"top"}), "show_probs": frozenset({"top", "table", "heat"}),
            "head": frozenset({"top", "table", "heat", "json", FIGURE, PAGE, "export.json"}),
            "step": frozenset({"table", "heat", "json", FIGURE, PAGE})}  # fmt: skip
    if step is not None and not all_layers(o) and not is_page(o):
        raise ConfigError("--step chooses the generated token that --layer all shows: give "
                          "--layer all too")  # fmt: skip
    shown = outputs(o, format, formats, html=True, acts=acts,
                    default="table" if all_layers(o) else "top", exports=EXPORTS)  # fmt: skip
    at_least_one(top)
    _check_step(o, shown, step, n)
    if "seed" in o.given and not temperature:
        raise ConfigError("--seed seeds the sampling: give a --temperature above 0 too")
    return shown, sys.stdout.isatty() and shown in ("top", "table", "heat")


def _check_step(o: Options, shown: str | None, step: int | None, n: int) -> None:
    """--layer all and --step where generate honours them (the page plays every layer and
    every step: --step is the one it opens at)."""
    every = all_layers(o)
    if every and shown == "top":
        raise ConfigError("--layer all shows one generated token in every layer (--format "
                          "table, heat or json, or -o): --format top lists them in one layer")  # fmt: skip
    if is_page(o) and o.layer is not None and not every:
        raise ConfigError("the page plays every layer of each generated token: leave --layer "
                          "out")  # fmt: skip
    if step is not None and not 1 <= step <= max(n, 1):
        raise ConfigError(f"--step counts the generated tokens from 1 to --max-new-tokens "
                          f"({n}), not {step}")  # fmt: skip


def _stream(ck: Any, prompt: str, live: bool) -> Any:
    """A printer of the tokens as they come (the prompt first), or None off a terminal."""
    if not live:
        return None
    progress.stop()
    sys.stdout.write(prompt)
    sys.stdout.flush()
    said: list[int] = []
    shown = 0

    def show(token: int) -> None:
        nonlocal shown
        said.append(token)
        text = ck.tokenizer.decode(said, skip_special_tokens=True)
        if not text.endswith("\ufffd"):  # a character whose bytes are not all out yet
            sys.stdout.write(text[shown:])
            sys.stdout.flush()
            shown = len(text)

    return show


def _befores(ck: Any, text: str, generated: list[int]) -> list[str]:
    """The text before each generated token: the prompt's end, then the token before it."""
    return [text[-1:] or " "] + [ck.tokenizer.decode([t]) for t in generated[:-1]]


def _choice(ck: Any, token: int, label: str, prob: float, top: list[tuple[int, float]],
            before: str) -> StepChoice:  # fmt: skip
    """One step's choice, its alternatives labelled as they would read in its place."""
    from ..models.generate import pieces

    named = tuple((pieces(ck, [i], before)[0].text, q) for i, q in top)
    return StepChoice(token, label, prob, named)


def generation_view(o: Options, text: str, n: int, sampling: dict[str, Any], head: str | None,
                    live: bool, step: int | None = None) -> GenerationView:  # fmt: skip
    """Generate after ``text``, then the view of the whole sequence at --layer (or, --layer
    all, of the token of ``step`` in every layer)."""
    from ..models import Checkpoint
    from ..models.generate import Sampling, check_length, decoders, generate, pieces

    if o.model is None:
        raise ConfigError(f"generate continues a text with a --model decoder ({decoders()}): "
                          "give one")  # fmt: skip
    if o.layer is not None and not all_layers(o) and not o.layer.strip().isdigit():
        raise ConfigError(f"--layer takes a layer number or 'all', not {o.layer!r}")
    chosen = Sampling(**sampling)
    ck = Checkpoint.open(o.model)
    if o.attention is not None and ck.family.seq2seq is None:
        raise ConfigError(f"--attention is an encoder-decoder's; {o.model!r} is a "
                          f"{ck.family.model_type}")  # fmt: skip
    if ck.family.seq2seq is not None:
        return _translation(o, ck, text, n, chosen, head, live, step)
    layer = None if o.layer is None or all_layers(o) else int(o.layer)
    if layer is not None and layer >= ck.layers:  # checked before the generation, not after
        raise ConfigError(f"no layer {layer}: {o.model!r} has layers 0 to {ck.layers - 1}")
    heads = head_list(head, ck.heads, ck.kv_heads)
    if ck.over(text, ck.max_positions) is not None:  # checked before it is tokenised whole
        raise ConfigError(f"the prompt has more tokens than the {ck.max_positions} positions "
                          f"of {o.model!r}: shorten it")  # fmt: skip
    prompt, tokens = ck.encode(text)
    dtype = o.dtype or "float32"
    check_length(ck, prompt, n)
    _check_budget(o, ck, dtype, len(prompt) + n)
    progress.step("generating")
    g = generate(ck, prompt, n, chosen, dtype, on_token=_stream(ck, text, live))
    if live:
        sys.stdout.write("\n\n")
    config = AttentionConfig(mask=("none",), dtype=dtype, source=Pretrained(o.model, layer))
    progress.step("computing attention")
    new = pieces(ck, g.generated, text[-1:] or " ")
    trace = ck.run(g.ids, tokens + new, config, kept=g.kept)
    assert trace.model is not None
    trace = replace(trace, model=replace(trace.model, prompt_tokens=len(prompt),
                                         chosen_prob=tuple(g.chosen_prob)))  # fmt: skip
    steps = [_choice(ck, t, label.text, p, top, before)
             for t, label, p, top, before in zip(g.generated, new, g.chosen_prob, g.top,
                                                 _befores(ck, text, g.generated), strict=True)]  # fmt: skip
    return _view(o, trace, heads, steps, chosen, g.stopped, step)


def _check_budget(o: Options, ck: Any, dtype: str, T: int) -> None:
    """RunError when a generation of T tokens in all is over --memory-budget: it keeps every
    layer's tensors, and the output embedding, from step to step."""
    names = (*ck.family.lm_head, "lm_head.weight", "shared.weight")  # an encoder-decoder's
    vocab = next(((ck.tensors.shape(n) or [0])[0] for n in names if ck.tensors.has(n)), 0)
    kept = ck.kept_bytes(dtype) + ck.d_model * vocab * np.dtype(dtype).itemsize
    head_bytes = ck.d_model * vocab * 4  # the output embedding's 32-bit copy while it is converted
    budget = Limits(memory_budget=size(o.memory_budget), extra_bytes=lambda _: kept + head_bytes)
    try:
        check_budget(budget, ck.heads, ck.d_model, dtype, T, ck.layers,
                     ck.tensors.layer_elements())  # fmt: skip
    except RunError as e:  # the ways out of generate
        raise RunError(str(e).split(": try")[0] + f", {kept / 2**30:.1f} GiB of it the weights "
                       "kept from step to step: raise `memory_budget`, or ask for fewer "
                       "`max_new_tokens`") from None  # fmt: skip


def _view(o: Options, trace: Any, heads: list[int], steps: list[StepChoice], chosen: Any,
          stopped: bool, step: int | None) -> GenerationView:  # fmt: skip
    """The view of a generation's run: how its tokens were chosen, --step checked."""
    how: dict[str, Any] = {"temperature": chosen.temperature}
    if chosen.temperature:
        how |= {"top_k": chosen.top_k, "top_p": chosen.top_p, "seed": chosen.seed}
    if step is not None and step > len(steps):
        raise ConfigError(f"--step {step}: the generation stopped at its end-of-text token after "
                          f"{len(steps)} tokens; give --step 1 to {len(steps)}")  # fmt: skip
    every = all_layers(o) and not is_page(o)  # the page plays every layer of every step
    return GenerationView(trace, heads, steps, how, stopped, o.lang, every, step)


def _translation(o: Options, ck: Any, text: str, n: int, chosen: Any, head: str | None,
                 live: bool, step: int | None) -> GenerationView:  # fmt: skip
    """An encoder-decoder writes the target of the source ``text``, then the view of its
    attention (--attention, cross by default) over the source and the target written."""
    from ..models.translate import labels, translate

    pre = _target_run(o, ck, text, n)
    source, tokens = ck.encode(text)
    heads, dtype = head_list(head, ck.heads, ck.kv_heads), o.dtype or "float32"
    _check_budget(o, ck, dtype, len(source) + n)
    progress.step("generating")
    g = translate(ck, source, n, chosen, dtype, on_token=_stream(ck, "", live))
    if live:
        sys.stdout.write("\n\n")
    new = labels(ck, g.generated)
    config = AttentionConfig(mask=("none",), dtype=dtype, source=replace(
        pre, target=ck.target_tokenizer.decode(g.generated, skip_special_tokens=True) or " "))  # fmt: skip
    progress.step("computing attention")
    trace = ck.run_seq2seq((source, tokens), (g.ids, [ck.start_token(), *new]), config)[0]
    trace = replace(trace, model=replace(trace.model, prompt_tokens=1,
                                         chosen_prob=tuple(g.chosen_prob)))  # fmt: skip
    steps = [_choice(ck, t, label.text, p, top, " ")
             for t, label, p, top in zip(g.generated, new, g.chosen_prob, g.top, strict=True)]  # fmt: skip
    return _view(o, trace, heads, steps, chosen, g.stopped, step)


def _target_run(o: Options, ck: Any, text: str, n: int) -> Pretrained:
    """The options of the run of an encoder-decoder's generation, checked before it runs:
    its kind of attention (decoder or cross) and layer, the source's length and ``n``."""
    kind = (o.attention or "cross").strip().lower()
    if kind == "encoder":
        raise ConfigError("--attention encoder reads the source alone: generate shows the "
                          "target it writes (decoder or cross)")  # fmt: skip
    if ck.over(text, ck.max_positions) is not None:
        raise ConfigError(f"the source has more tokens than the {ck.max_positions} positions "
                          f"of {o.model!r}: shorten it")  # fmt: skip
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n < ck.max_positions:
        raise ConfigError(f"--max-new-tokens must be a whole number from 1 to "
                          f"{ck.max_positions - 1}, not {n!r}")  # fmt: skip
    layer = None if o.layer is None or all_layers(o) else int(o.layer)
    pre = Pretrained(o.model, layer, attention=kind)
    ck.seq2seq_layer(kind, pre)  # a layer it has
    return pre
