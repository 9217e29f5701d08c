"""Text shown to people: user text made safe to print (and to write as JSON), token labels."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

# Bidirectional controls can reorder what follows them on screen (the "Trojan Source" trick).
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _visible_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # C0 controls as their Control Pictures: ESC -> ␛, NUL -> ␀
    if code == 0x7F:
        return "\u2421"  # ␡
    if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
        return f"\\u{code:04x}"
    return ch


# What JSON keeps as a \u escape, never raw: C1 controls and DEL (C0 ones json escapes itself),
# bidirectional controls, line and paragraph separators, lone surrogates.
_JSON_INERT = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                         "\ud800-\udfff]")  # fmt: skip


def json_text(data: Any, **options: Any) -> str:
    """``data`` as JSON whose text is inert where it is printed: the characters that can hide
    or reorder what a terminal shows are ``\\u`` escapes (the same string once parsed: nothing
    is lost). NaN and infinities are refused (they are not JSON)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, **options)
    if not _JSON_INERT.search(text):  # as a rule: no copy of a long text then
        return text
    return _JSON_INERT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def plain(data: Any) -> Any:
    """``data`` with every NumPy array in it a (nested) list: what ``json`` can write."""
    import numpy as np  # (here, so that the command line's help loads no NumPy)

    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [plain(v) for v in data]
    return data


def write_json(data: Any, write: Callable[[str], object]) -> None:
    """Write the text ``json_text(plain(data))`` is, a piece at a time: an array is written a
    row at a time, so neither its text nor its numbers as Python floats are ever held whole."""
    import numpy as np

    if isinstance(data, np.ndarray) and data.ndim > 1:
        items: Any = data
    elif isinstance(data, (list, tuple)) and any(isinstance(v, (np.ndarray, dict)) for v in data):
        items = data
    elif isinstance(data, dict):
        write("{")
        for n, (key, value) in enumerate(data.items()):
            write(f"{', ' if n else ''}{json_text(key)}: ")
            write_json(value, write)
        write("}")
        return
    else:
        write(json_text(plain(data)))
        return
    write("[")
    for n, item in enumerate(items):
        write(", " if n else "")
        write_json(item, write)
    write("]")


def visible(text: str) -> str:
    """``text`` with every control character shown as a visible symbol, never sent raw.

    ESC (the start of every ANSI escape sequence) becomes ␛, other C0 controls their
    Control Pictures (␀, ␍, ␈ ...), and C1 controls, bidirectional overrides and line
    separators an escape such as ``\\u202e``. Printable text is left as it is.
    """
    if text.isprintable():
        return text
    return "".join(_visible_char(ch) for ch in text)


LANGS = ("en", "es")

# Every word a figure or a table shows, per language (the Spanish terms are the course's).
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "attention_weights": "attention weights",
        "query": "query",
        "key": "key",
        "target_query": "target (query)",
        "source_key": "source (key)",
        "target": "target",
        "source": "source",
        "attn_encoder": "encoder self-attention",
        "attn_decoder": "decoder self-attention",
        "attn_cross": "cross-attention",
        "t5_unscaled": "scores not divided by √d_k (T5)",
        "head": "head",
        "heads": "heads",
        "heads_of": "{heads} of {n}",
        "mask": "mask",
        "seed": "seed",
        "tokenizer": "tokenizer",
        "unscaled": "unscaled",
        "weight": "attention weight",
        "weight_head_max": "weight ÷ the head's largest weight",
        "weight_log": "attention weight (log scale)",
        "log_scale": "log scale",
        "head_max": "each head's largest weight",
        "shaded_by_head": "colours up to the head's largest weight",
        "sink_title": "weight on the first token (attention sink) · {n} tokens",
        "sink_axis": "share of each query's weight on the first token",
        "sink_mean": "mean of the heads",
        "sink_mean_short": "mean",
        "streamed_keys_90": "—: a streamed run does not sort each row's weights whole, so it "
        "does not count the keys for 90%",
        "sink_uniform": "spread evenly over the keys seen",
        "sink_caption": "each head's share averaged over the queries that see a key",
        "entropy": "mean row entropy",
        "nats": "nats",
        "hidden": "hidden by the mask",
        "partly": "partly hidden by the mask",
        "pooled": "pooled: each cell {f} × {f} tokens, {how}",
        "pool_mean": "their mean weight",
        "pool_max": "their largest weight",
        "streamed": "streamed",
        "mask_none": "none",
        "truncated": "truncated to {n} tokens ({cut} cut)",
        # compare
        "run_a": "A",
        "run_b": "B",
        "difference": "B − A",
        "weight_difference": "weight B − weight A",
        "tv_distance": "TV distance",
        "tv_short": "TV",
        "moved_short": "moved",
        "mass_moved": "mass moved by the mask",
        "entropy_a": "entropy A",
        "entropy_b": "entropy B",
        "jacobian_a": "‖J‖ A (median)",
        "jacobian_b": "‖J‖ B (median)",
        "row_jacobian": "‖∂softmax/∂s‖_F of this row: {v} (what a gradient is multiplied by on "
        "its way back to the scores; near 0 when the row is saturated)",
        "lesson_title": "Attention, step by step",
        "lesson_pages": "The tokens · Q, K and V · the scores · the scaling · the mask · softmax "
        "· a head's output · multi-head and W_O · every head · what the mask changes · what the "
        "scaling changes · why √d_k · the commands that remake each page",
        "lesson_tokens": "The text becomes tokens: each is a row of every matrix that follows",
        "lesson_qkv": "Each token's vector is projected into a query, a key and a value",
        "lesson_scores": "Every query meets every key: the scores QKᵀ",
        "lesson_scaling": "The scores are divided by √d_k",
        "lesson_mask": "The mask sets what a query may not see to −∞",
        "lesson_softmax": "Softmax turns each row of scores into weights that sum to 1",
        "lesson_head_output": "A head's output: each query's weighted sum of the values",
        "lesson_multi_head": "The heads are concatenated and multiplied by W_O",
        "lesson_heads": "Every head attends in its own way",
        "lesson_masked": "What the mask changes: the same heads without it",
        "lesson_masked_causal": "What a mask changes: the same heads under a causal mask",
        "lesson_scaled": "What the scaling changes: the same heads without ÷√d_k",
        "lesson_why": "Why √d_k: without it the softmax saturates and its gradient vanishes",
        "lesson_commands": "The commands that remake each page",
        "lesson_more_tokens": "… and {n} more tokens",
        "output_difference": "‖output A − output B‖ per token",
        "token": "token",
        "all_heads": "all",
        "mean_over_heads": "mean over heads",
        # steps
        "stage_q": "queries",
        "stage_k": "keys",
        "stage_v": "values",
        "stage_q_rot": "queries, turned by position (RoPE)",
        "stage_k_rot": "keys, turned by position (RoPE)",
        "f_rot": "{m}′ᵢ = RoPE({x}ᵢ, i)",
        "f_scores_rot": "scores = Q′·K′ᵀ",
        "shared_kv": "kv head {g}, shared by heads {heads}",
        "kv_heads": "{g} kv heads",
        "kv": "kv",
        "greedy": "greedy",
        "html_step": "generated token",
        "html_play": "play the generation",
        "html_inline": "{title}: an interactive page, which shows where the notebook runs "
        "its outputs' scripts (run the cell, or trust the notebook)",
        "html_survey": "hover a cell for its value and the head's label; click a grid to "
        "enlarge it, Escape to return",
        "generated": "{n} tokens generated after {p} ({how})",
        "translated": "{n} target tokens generated from the source ({how})",
        "every_layer_of": "every layer of token {q} «{token}» (step {step} of {n})",
        "survey_of": "survey of {name} ({shape})",
        "texts_used": "{n} texts",
        "texts_skipped": "skipped",
        "skip_bad": "not text",
        "skip_empty": "empty",
        "skip_long": "too long",
        "skip_memory": "over the memory budget",
        "skip_target": "without a target",
        "word_level": "pieces merged into words",
        "measure": "measure",
        "strongest_heads": "strongest heads (layer.head value)",
        "head_labels": "labels",
        "label_word": "label",
        "survey_caption": "rows: layers · columns: heads · each grid coloured from 0 to its own "
        "largest value (≤ in its title); values are means over every row of every text",
        "scaling_title": "Why divide by √d_k · {rows} queries of {keys} keys, entries N(0, 1) · "
        "seed {seed}",
        "s_variance": "variance of s",
        "s_entropy": "mean row entropy (nats)",
        "s_top": "mean largest weight",
        "s_jacobian": "median ‖∂softmax/∂s‖_F",
        "s_saturated": "rows saturated (> 0.99)",
        "theory": "theory",
        "paper_dk": "the paper's d_k = 64",
        "scaling_caption": "unscaled, the scores' variance grows as d_k: the softmax saturates "
        "and the gradient through it (its Jacobian diag(p) − p pᵀ) vanishes; ÷√d_k keeps "
        "both where they were",
        "next_tokens": "most probable",
        "layer_word": "layer",
        "layers_word": "layers",
        "f_scores": "scores = Q·Kᵀ",
        "f_scaled": "scaled = scores / √{d_k}",
        "f_scaled_by": "scaled = scores × {k:.4g}",
        "f_masked": "masked = scaled, −∞ where hidden",
        "f_weights": "weights = softmax(masked)",
        "f_head_output": "head = weights·V",
        "f_concat": "concat = [head 0 … {last}]",
        "f_output": "output = concat·W_O",
        "stage_scores": "attention scores",
        "stage_scaled": "scaling",
        "stage_masked": "mask",
        "stage_weights": "attention weights (softmax)",
        "stage_head_output": "head output",
        "stage_concat": "concatenated heads",
        "stage_output": "multi-head attention output",
        "skipped": "skipped: --unscaled",
        "columns_left_out": "{n} more columns not shown (--columns)",
        "value": "value",
        "column": "column",
        "worked_row": "query {i} ({token}), head {h}: the row by hand",
        "score": "score",
        "scaled": "scaled",
        "masked": "masked",
        "exp": "exp(masked − max)",
        "sum": "sum",
        "weighted_sum": "head output = Σ weight · V row",
        "contribution": "weight · V",
        "yes": "yes",
        "no": "no",
        "hidden_short": "hidden",
        "m_entropy": "entropy (nats)",
        "m_normalized_entropy": "entropy ÷ log(keys)",
        "m_distance": "mean distance",
        "m_self": "on itself",
        "m_previous": "on previous",
        "m_first": "on first",
        "m_max_weight": "largest weight",
        "m_keys_90": "keys for 90%",
        "m_end": "on the source's end",
        "t_cross": "entropy: of a target token's alignment over the source; end, first: the "
        "share of weight on the source's last token (its </s>) and its first",
        "stats_caption": "means over the {rows} query rows that see a key",
        "stats_shading": "each column shaded from its smallest to its largest value",
        # planted heads
        "stage_bias": "position bias",
        "f_bias": "biased = scaled + b(i − j)",
        "f_masked_biased": "masked = biased, −∞ where hidden",
        "f_t5_scaled": "scaled = scores (T5 does not divide by √d_k)",
        "stage_t5_bias": "relative position bias (T5)",
        "f_t5_bias": "biased = scaled + b[bucket(j − i)]",
        "bias": "+ bias",
        "plant_strength": "plant strength {k:g}",
        "p_previous": "previous",
        "p_self": "self",
        "p_first": "first",
        "p_uniform": "uniform",
        "p_same": "same token",
        "m_same": "on same token",
        "planted": "planted heads",
        "window": "window: queries {q0}–{q1}, keys {k0}–{k1} of {T}",
        "window_cross": "window: target {q0}–{q1} of {T}, source {k0}–{k1} of {S}",
        "layer": "layer {n}",
        "html_enlarge": "click or Enter to enlarge",
        "html_all": "all heads",
        "html_show": "hover a cell for its weight, a token for its row and column; click a panel to enlarge it, Escape to return",
        "special_hidden": "{n} special tokens hidden, rows renormalised",
        "pieces_merged": "{n} pieces merged into words (to a word: the sum; from: the mean)",
        "rollout": "attention rollout",
        "rollout_of": "attention rollout · layers: {n} · heads averaged, 0.5·A + 0.5·I",
        # the stats table's short headers, for 80 columns, and the line that explains them
        "t_normalized_entropy": "entropy ÷ log n",
        "t_self": "self",
        "t_previous": "previous",
        "t_first": "first",
        "t_end": "end",
        "t_same": "same",
        "t_shares": "self, previous, first, same: the share of weight on the query itself, on "
        "the token before it, on the first token (the attention sink of many decoders), on "
        "earlier copies of its token",
    },
    "es": {
        "attention_weights": "pesos de atención",
        "query": "consulta",
        "key": "clave",
        "target_query": "destino (consulta)",
        "source_key": "origen (clave)",
        "target": "destino",
        "source": "origen",
        "attn_encoder": "autoatención del codificador",
        "attn_decoder": "autoatención del decodificador",
        "attn_cross": "atención cruzada",
        "t5_unscaled": "puntajes sin dividir por √d_k (T5)",
        "head": "cabeza",
        "heads": "cabezas",
        "heads_of": "{heads} de {n}",
        "mask": "máscara",
        "seed": "semilla",
        "tokenizer": "tokenizador",
        "unscaled": "sin escalar",
        "weight": "peso de atención",
        "weight_head_max": "peso ÷ el mayor peso de la cabeza",
        "weight_log": "peso de atención (escala logarítmica)",
        "log_scale": "escala logarítmica",
        "head_max": "el mayor peso de cada cabeza",
        "shaded_by_head": "colores hasta el mayor peso de la cabeza",
        "sink_title": "peso en el primer token (sumidero de atención) · {n} tokens",
        "sink_axis": "parte del peso de cada consulta en el primer token",
        "sink_mean": "media de las cabezas",
        "sink_mean_short": "media",
        "streamed_keys_90": "—: una ejecución en flujo no ordena los pesos de cada fila "
        "enteros, así que no cuenta las claves del 90%",
        "sink_uniform": "repartido por igual entre las claves vistas",
        "sink_caption": "la parte de cada cabeza, media de las consultas que ven una clave",
        "entropy": "entropía media por fila",
        "nats": "nats",
        "hidden": "oculto por la máscara",
        "partly": "oculto en parte por la máscara",
        "pooled": "agrupado: cada celda {f} × {f} tokens, {how}",
        "pool_mean": "su peso medio",
        "pool_max": "su peso mayor",
        "streamed": "en flujo",
        "mask_none": "ninguna",
        "truncated": "recortado a {n} tokens ({cut} fuera)",
        "run_a": "A",
        "run_b": "B",
        "difference": "B − A",
        "weight_difference": "peso B − peso A",
        "tv_distance": "distancia de variación total",
        "tv_short": "VT",
        "moved_short": "desplazada",
        "mass_moved": "masa desplazada por la máscara",
        "entropy_a": "entropía A",
        "entropy_b": "entropía B",
        "jacobian_a": "‖J‖ A (mediana)",
        "jacobian_b": "‖J‖ B (mediana)",
        "row_jacobian": "‖∂softmax/∂s‖_F de esta fila: {v} (el factor del gradiente de vuelta "
        "a las puntuaciones; cerca de 0 si la fila está saturada)",
        "lesson_title": "La atención, paso a paso",
        "lesson_pages": "Los tokens · Q, K y V · las puntuaciones · el escalado · la máscara · "
        "softmax · la salida de una cabeza · multi-cabeza y W_O · todas las cabezas · lo que "
        "cambia la máscara · lo que cambia el escalado · por qué √d_k · las órdenes que rehacen "
        "cada página",
        "lesson_tokens": "El texto se convierte en tokens: cada uno es una fila de cada matriz "
        "que sigue",
        "lesson_qkv": "El vector de cada token se proyecta en una consulta, una clave y un valor",
        "lesson_scores": "Cada consulta se encuentra con cada clave: las puntuaciones QKᵀ",
        "lesson_scaling": "Las puntuaciones se dividen entre √d_k",
        "lesson_mask": "La máscara pone a −∞ lo que una consulta no puede ver",
        "lesson_softmax": "Softmax convierte cada fila de puntuaciones en pesos que suman 1",
        "lesson_head_output": "La salida de una cabeza: la suma ponderada de los valores de "
        "cada consulta",
        "lesson_multi_head": "Las cabezas se concatenan y se multiplican por W_O",
        "lesson_heads": "Cada cabeza atiende a su manera",
        "lesson_masked": "Lo que cambia la máscara: las mismas cabezas sin ella",
        "lesson_masked_causal": "Lo que cambia una máscara: las mismas cabezas con una máscara "
        "causal",
        "lesson_scaled": "Lo que cambia el escalado: las mismas cabezas sin ÷√d_k",
        "lesson_why": "Por qué √d_k: sin él la softmax se satura y su gradiente se anula",
        "lesson_commands": "Las órdenes que rehacen cada página",
        "lesson_more_tokens": "… y {n} tokens más",
        "output_difference": "‖salida A − salida B‖ por token",
        "token": "token",
        "all_heads": "todas",
        "mean_over_heads": "media de las cabezas",
        "stage_q": "consultas",
        "stage_k": "claves",
        "stage_v": "valores",
        "stage_q_rot": "consultas, giradas según la posición (RoPE)",
        "stage_k_rot": "claves, giradas según la posición (RoPE)",
        "f_rot": "{m}′ᵢ = RoPE({x}ᵢ, i)",
        "f_scores_rot": "puntajes = Q′·K′ᵀ",
        "shared_kv": "cabeza kv {g}, compartida por las cabezas {heads}",
        "kv_heads": "{g} cabezas kv",
        "kv": "kv",
        "greedy": "voraz",
        "html_step": "token generado",
        "html_play": "reproducir la generación",
        "html_inline": "{title}: una página interactiva, que se ve donde el cuaderno ejecuta "
        "los scripts de sus salidas (ejecute la celda o confíe en el cuaderno)",
        "html_survey": "pasa el ratón por una celda para ver su valor y la etiqueta de la "
        "cabeza; haz clic en una cuadrícula para ampliarla, Escape para volver",
        "generated": "{n} tokens generados tras {p} ({how})",
        "translated": "{n} tokens del destino generados a partir del origen ({how})",
        "every_layer_of": "todas las capas del token {q} «{token}» (paso {step} de {n})",
        "survey_of": "estudio de {name} ({shape})",
        "texts_used": "{n} textos",
        "texts_skipped": "omitidos",
        "skip_bad": "no son texto",
        "skip_empty": "vacíos",
        "skip_long": "demasiado largos",
        "skip_memory": "sobre el presupuesto de memoria",
        "skip_target": "sin destino",
        "word_level": "piezas unidas en palabras",
        "measure": "medida",
        "strongest_heads": "cabezas más fuertes (capa.cabeza valor)",
        "head_labels": "etiquetas",
        "label_word": "etiqueta",
        "survey_caption": "filas: capas · columnas: cabezas · cada cuadrícula coloreada de 0 a "
        "su propio máximo (≤ en su título); los valores son medias sobre todas las filas de "
        "todos los textos",
        "scaling_title": "Por qué dividir entre √d_k · {rows} consultas de {keys} claves, "
        "entradas N(0, 1) · semilla {seed}",
        "s_variance": "varianza de s",
        "s_entropy": "entropía media por fila (nats)",
        "s_top": "peso máximo medio",
        "s_jacobian": "mediana de ‖∂softmax/∂s‖_F",
        "s_saturated": "filas saturadas (> 0.99)",
        "theory": "teoría",
        "paper_dk": "d_k = 64 del artículo",
        "scaling_caption": "sin escalar, la varianza de las puntuaciones crece como d_k: la "
        "softmax se satura y el gradiente que la atraviesa (su jacobiana diag(p) − p pᵀ) se "
        "anula; ÷√d_k los mantiene donde estaban",
        "next_tokens": "más probables",
        "layer_word": "capa",
        "layers_word": "capas",
        "f_scores": "puntajes = Q·Kᵀ",
        "f_scaled": "escalado = puntajes / √{d_k}",
        "f_scaled_by": "escalado = puntajes × {k:.4g}",
        "f_masked": "con máscara = escalado, −∞ si oculto",
        "f_weights": "pesos = softmax(con máscara)",
        "f_head_output": "cabeza = pesos·V",
        "f_concat": "concat = [cabeza 0 … {last}]",
        "f_output": "salida = concat·W_O",
        "stage_scores": "puntajes de atención",
        "stage_scaled": "escalado",
        "stage_masked": "máscara",
        "stage_weights": "pesos de atención (softmax)",
        "stage_head_output": "salida de la cabeza",
        "stage_concat": "cabezas concatenadas",
        "stage_output": "salida de la atención multi-cabeza",
        "skipped": "omitido: --unscaled",
        "columns_left_out": "{n} columnas más sin mostrar (--columns)",
        "value": "valor",
        "column": "columna",
        "worked_row": "consulta {i} ({token}), cabeza {h}: la fila a mano",
        "score": "puntaje",
        "scaled": "escalado",
        "masked": "con máscara",
        "exp": "exp(con máscara − máx)",
        "sum": "suma",
        "weighted_sum": "salida de la cabeza = Σ peso · fila de V",
        "contribution": "peso · V",
        "yes": "sí",
        "no": "no",
        "hidden_short": "oculto",
        "m_entropy": "entropía (nats)",
        "m_normalized_entropy": "entropía ÷ log(claves)",
        "m_distance": "distancia media",
        "m_self": "en sí mismo",
        "m_previous": "en el anterior",
        "m_first": "en el primero",
        "m_max_weight": "mayor peso",
        "m_keys_90": "claves para el 90%",
        "m_end": "en el final del origen",
        "t_cross": "entropía: del alineamiento de un token del destino sobre el origen; final, "
        "primero: la parte del peso en el último token del origen (su </s>) y en el primero",
        "stats_caption": "medias de las {rows} filas de consulta que ven alguna clave",
        "stats_shading": "cada columna sombreada de su menor a su mayor valor",
        "stage_bias": "sesgo de posición",
        "f_bias": "con sesgo = escalado + b(i − j)",
        "f_masked_biased": "con máscara = con sesgo, −∞ si oculto",
        "f_t5_scaled": "escalado = puntajes (T5 no divide por √d_k)",
        "stage_t5_bias": "sesgo de posición relativa (T5)",
        "f_t5_bias": "con sesgo = escalado + b[cubo(j − i)]",
        "bias": "+ sesgo",
        "plant_strength": "intensidad de los patrones {k:g}",
        "p_previous": "anterior",
        "p_self": "sí mismo",
        "p_first": "primero",
        "p_uniform": "uniforme",
        "p_same": "mismo token",
        "m_same": "en el mismo token",
        "planted": "cabezas con patrón",
        "window": "ventana: consultas {q0}–{q1}, claves {k0}–{k1} de {T}",
        "window_cross": "ventana: destino {q0}–{q1} de {T}, origen {k0}–{k1} de {S}",
        "layer": "capa {n}",
        "html_enlarge": "clic o Intro para ampliar",
        "html_all": "todas las cabezas",
        "html_show": "pase sobre una celda para ver su peso, sobre un token para su fila y columna; clic en un panel para ampliarlo, Escape para volver",
        "special_hidden": "{n} tokens especiales ocultos, filas renormalizadas",
        "pieces_merged": "{n} piezas unidas en palabras (hacia una palabra: la suma; desde: la media)",
        "rollout": "propagación de la atención",
        "rollout_of": "propagación de la atención · capas: {n} · media de las cabezas, 0.5·A + 0.5·I",
        "t_normalized_entropy": "entropía ÷ log n",
        "t_self": "propio",
        "t_previous": "anterior",
        "t_first": "primero",
        "t_end": "final",
        "t_same": "igual",
        "t_shares": "propio, anterior, primero, igual: la parte del peso en la consulta misma, "
        "en el token anterior, en el primero (el «sumidero de atención» de muchos "
        "decodificadores), en las apariciones previas de su token",
    },
}


def strings(lang: str) -> dict[str, str]:
    """The label table of a language; unknown languages raise ConfigError."""
    from ..errors import ConfigError

    if lang not in STRINGS:
        raise ConfigError(f"unknown language {lang!r}; choose one of: {', '.join(LANGS)}")
    return STRINGS[lang]


def shorten(text: str, limit: int = 12) -> str:
    """A label at most ``limit`` characters long, cut with an ellipsis; control characters shown."""
    shown = visible(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def pattern_label(config: Any, h: int, lang: str = "en") -> str:
    """The pattern planted in head ``h`` ("previous"), or "" for a head that is not planted."""
    pattern = config.planted.get(h)
    return strings(lang)[f"p_{pattern}"] if pattern else ""


def head_label(trace: Any, h: int, lang: str = "en", word: bool = True) -> str:
    """ "head 2", "head 2 · previous" for a planted head, "head 5 · kv 1" for a head that
    shares key/value head 1 with others ("2 · previous" without the ``word``)."""
    s = strings(lang)
    pattern = pattern_label(trace.config, h, lang)
    if trace.kv_heads < trace.heads:
        pattern = f"{s['kv']} {trace.kv_group(h)[0]}"
    name = f"{s['head']} {h}" if word else str(h)
    return name + (f" · {pattern}" if pattern else "")


def mask_text(specs: tuple[str, ...], lang: str = "en") -> str:
    """The mask specs as one short phrase: "causal + window=3" ("none" in the language)."""
    return " + ".join(strings(lang)["mask_none"] if spec == "none" else spec for spec in specs)


def layers_mask_text(trace: Any, lang: str = "en") -> str:
    """The masks of a run's layers: the Trace's, or, when its layers differ (sliding and global
    layers), each with its layers: "window=3 (layers 0, 2), causal (layer 1)"."""
    masks = trace.model.layer_masks if trace.model else ()
    if not masks:
        return mask_text(trace.config.mask, lang)
    s = strings(lang)
    groups: dict[tuple[str, ...], list[int]] = {}
    for n, spec in enumerate(masks):
        groups.setdefault(tuple(spec), []).append(n)
    return ", ".join(
        f"{mask_text(spec, lang)} ({s['layers_word' if len(ns) > 1 else 'layer_word']} "
        f"{', '.join(map(str, ns))})"
        for spec, ns in groups.items()
    )


def crop_text(crop: Any, T: int, lang: str = "en", S: int | None = None) -> str:
    """ "window: queries 10–19, keys 0–19 of 500" (inclusive ends), or "" for the whole run;
    ``S``: cross-attention's source tokens (the keys), when they are not the T queries."""
    if crop is None or (crop.q0, crop.q1, crop.k0, crop.k1) == (0, T, 0, T if S is None else S):
        return ""
    ends = {"q0": crop.q0, "q1": crop.q1 - 1, "k0": crop.k0, "k1": crop.k1 - 1}
    return strings(lang)["window" if S is None else "window_cross"].format(**ends, T=T, S=S)


def _sources(trace: Any) -> int | None:
    """The number of source tokens of a cross-attention run (its keys), else None."""
    return trace.keys_count if getattr(trace, "attention", "") == "cross" else None


def heads_text(shown: Sequence[int] | None, n: int, lang: str = "en") -> str:
    """ "8 heads" when all are shown, else which: "heads 0, 1 of 8", "head 3 of 8", runs as
    ranges ("heads 0–5, 9 of 12")."""
    s = strings(lang)
    if shown is None or list(shown) == list(range(n)):
        return f"{n} {s['heads']}"
    runs: list[list[int]] = []
    for h in shown:
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    listed = ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in runs)
    word = s["head"] if len(shown) == 1 else s["heads"]
    return s["heads_of"].format(heads=f"{word} {listed}", n=n)


def trace_line(
    trace: Any, lang: str = "en", crop: Any = None, every_layer: bool = False,
    shown: Sequence[int] | None = None,
) -> str:  # fmt: skip
    """The title line of a run: the checkpoint and its layer (none with ``every_layer``), or
    the seeded model's seed and tokeniser; the heads (those ``shown`` of them), d_model,
    mask; unscaled, how many tokens were cut, the special tokens left out, the crop shown."""
    s, c = strings(lang), trace.config
    parts = [heads_text(shown, trace.heads, lang), f"d_model {trace.d_model}",
             f"{s['mask']} {layers_mask_text(trace, lang) if every_layer else mask_text(c.mask, lang)}"]  # fmt: skip
    if trace.kv_heads < trace.heads:
        parts.insert(1, s["kv_heads"].format(g=trace.kv_heads))
    if c.pretrained is not None:
        layer = c.pretrained.layer
        where = [] if every_layer or layer is None else [s["layer"].format(n=layer)]
        kind = [s[f"attn_{trace.attention}"]] if trace.attention else []
        parts = [visible(c.pretrained.name), *kind, *where, *parts]
        if trace.model is not None and trace.model.model_type == "t5" and c.scaled:
            parts.append(s["t5_unscaled"])
    else:
        parts += [f"{s['seed']} {c.seeded.seed}", f"{s['tokenizer']} {c.seeded.tokenizer}"]
        if c.seeded.plant and c.seeded.plant_strength != 1:
            parts.append(s["plant_strength"].format(k=c.seeded.plant_strength))
    if not c.scaled:
        parts.append(s["unscaled"])
    T = len(trace.tokens)
    if trace.truncated:
        parts.append(s["truncated"].format(n=T, cut=trace.truncated))
    if crop_text(crop, T, lang, _sources(trace)):
        parts.append(crop_text(crop, T, lang, _sources(trace)))
    if trace.special_hidden:
        parts.append(s["special_hidden"].format(n=trace.special_hidden))
    if trace.pieces_merged:
        parts.append(s["pieces_merged"].format(n=trace.pieces_merged))
    return " · ".join(parts)


def _entropy(trace: Any, h: int) -> float | None:
    """Head h's mean row entropy: of a Trace's weights, or of the rows a streamed run
    measured (None when it measured none)."""
    from ..stats import mean_entropy

    if hasattr(trace, "weights"):
        return float(mean_entropy(trace.weights[[h]], trace.allowed)[0])
    rows = trace.rows.get((trace.layers[-1], h))
    if rows is None or "entropy" not in rows:
        return None
    seen = rows["keys"] > 0
    return float(rows["entropy"][seen].mean()) if seen.any() else 0.0


def head_caption(trace: Any, h: int, lang: str = "en", crop: Any = None) -> str:
    """The line under a head's table: a checkpoint's name and layer, the head, its mean row
    entropy (of the whole run), the mask, unscaled, and the crop shown."""
    s, c = strings(lang), trace.config
    entropy = _entropy(trace, h)
    parts = [
        f"{head_label(trace, h, lang)}",
        "" if entropy is None else f"{s['entropy']} {entropy:.2f} {s['nats']}",
        f"{s['mask']} {mask_text(c.mask, lang)}",
        "" if c.scaled else s["unscaled"],
        crop_text(crop, len(trace.tokens), lang, _sources(trace)),
        s["special_hidden"].format(n=trace.special_hidden) if trace.special_hidden else "",
        s["pieces_merged"].format(n=trace.pieces_merged) if trace.pieces_merged else "",
    ]
    if c.pretrained is not None and c.pretrained.layer is not None:
        kind = [s[f"attn_{trace.attention}"]] if trace.attention else []
        parts[:0] = [visible(c.pretrained.name), *kind, s["layer"].format(n=c.pretrained.layer)]
    return " · ".join(part for part in parts if part)
