"""A slow, independent reference: the computation the README sets out ("What it computes"),
with explicit Python loops.

Nothing here calls attnviz or uses NumPy's linear algebra; arrays come in and go out as
NumPy only for the convenience of the tests.
"""

import math

import numpy as np


def matmul(a, b):
    """(n, m) x (m, p) by three loops, summing in float64."""
    n, m, p = len(a), len(b), len(b[0])
    return [
        [sum(float(a[i][t]) * float(b[t][j]) for t in range(m)) for j in range(p)] for i in range(n)
    ]


def softmax_row(row, allowed_row):
    """Weights of one query row: 0 on hidden keys, all 0 when no key is allowed."""
    keys = [j for j, ok in enumerate(allowed_row) if ok]
    if not keys:
        return [0.0] * len(row)
    top = max(row[j] for j in keys)
    e = {j: math.exp(row[j] - top) for j in keys}
    total = sum(e.values())
    return [e[j] / total if j in e else 0.0 for j in range(len(row))]


def attention_head(q, k, v, allowed, scaled=True, bias=None):
    """One head: returns (scores, scaled, weights, output) as nested lists; ``bias`` (T x Tk)
    is added to the scaled scores before the mask."""
    T, Tk, Dh = len(q), len(k), len(q[0])
    scores = [
        [sum(float(q[i][d]) * float(k[j][d]) for d in range(Dh)) for j in range(Tk)]
        for i in range(T)
    ]
    factor = 1.0 / math.sqrt(Dh) if scaled else 1.0
    sc = [[scores[i][j] * factor for j in range(Tk)] for i in range(T)]
    biased = [[sc[i][j] + (float(bias[i][j]) if bias is not None else 0.0) for j in range(Tk)]
              for i in range(T)]  # fmt: skip
    weights = [softmax_row(biased[i], allowed[i]) for i in range(T)]
    out = [
        [sum(weights[i][j] * float(v[j][d]) for j in range(Tk)) for d in range(len(v[0]))]
        for i in range(T)
    ]
    return scores, sc, weights, out


def multi_head(x, w_q, w_k, w_v, w_o, allowed, scaled=True, bias=None):
    """The whole layer: returns dict of NumPy float64 arrays (weights, head_outputs, output, ...);
    ``bias`` is one T x T position bias per head, or None."""
    H = len(w_q)
    res = {"q": [], "k": [], "v": [], "scores": [], "scaled": [], "weights": [], "head_outputs": []}
    for h in range(H):
        q, k, v = matmul(x, w_q[h]), matmul(x, w_k[h]), matmul(x, w_v[h])
        s, sc, w, o = attention_head(q, k, v, allowed, scaled, None if bias is None else bias[h])
        for name, value in zip(res, (q, k, v, s, sc, w, o), strict=True):
            res[name].append(value)
    T = len(x)
    concat = [[val for h in range(H) for val in res["head_outputs"][h][i]] for i in range(T)]
    out = {name: np.array(value) for name, value in res.items()}
    out["concat"] = np.array(concat)
    out["output"] = np.array(matmul(concat, w_o))
    return out


def sinusoidal(T, D):
    """PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(same angle)."""
    pe = [[0.0] * D for _ in range(T)]
    for pos in range(T):
        for c in range(D):
            angle = pos / 10000 ** ((c - c % 2) / D)
            pe[pos][c] = math.sin(angle) if c % 2 == 0 else math.cos(angle)
    return np.array(pe)


def rope(x, base, dims, positions=None):
    """Rotary embedding by its definition, one pair at a time: in each row i (position i) the
    pair (d, d + dims/2) of the first ``dims`` entries turns by the angle i · base^(−2d/dims);
    the other entries stay. x is (T, Dh)."""
    out = [[float(v) for v in row] for row in x]
    half = dims // 2
    for i, row in enumerate(x):
        pos = i if positions is None else positions[i]
        for d in range(half):
            angle = pos * base ** (-2 * d / dims)
            a, b = float(row[d]), float(row[d + half])
            out[i][d] = a * math.cos(angle) - b * math.sin(angle)
            out[i][d + half] = b * math.cos(angle) + a * math.sin(angle)
    return out


def survey_means(texts, reach=8):
    """The survey's means by loops. ``texts``: (w (L, H, T, T), allowed (L, T, T), separator
    (T,), punctuation (T,)) each. Per layer and head, over every row with an allowed key of
    every text: the weight on token 0, on separators, on punctuation, on i − 1 (rows i > 0),
    on i + 1 (rows i < T − 1), on i; −Σ w log w; Σ w |i − j|; the largest weight; and the
    share of rows whose (first) largest weight is at the most frequent offset within ±reach."""
    names = ("first", "separator", "punctuation", "previous", "next", "self", "entropy",
             "distance", "confidence")  # fmt: skip
    L, H = texts[0][0].shape[:2]
    out = {m: np.zeros((L, H)) for m in (*names, "positional", "offset")}
    for n in range(L):
        for h in range(H):
            total = {m: 0.0 for m in names}
            rows = {m: 0 for m in names}
            counts = {}
            for w, allowed, separator, punctuation in texts:
                T = w.shape[-1]
                for i in range(T):
                    if not any(allowed[n][i][j] for j in range(T)):
                        continue
                    row = [float(x) for x in w[n][h][i]]
                    values = {
                        "first": row[0],
                        "separator": sum(row[j] for j in range(T) if separator[j]),
                        "punctuation": sum(row[j] for j in range(T) if punctuation[j]),
                        "self": row[i],
                        "entropy": -sum(x * math.log(x) for x in row if x > 0),
                        "distance": sum(row[j] * abs(i - j) for j in range(T)),
                        "confidence": max(row),
                    }
                    if i > 0:
                        values["previous"] = row[i - 1]
                    if i < T - 1:
                        values["next"] = row[i + 1]
                    for m, v in values.items():
                        total[m] += v
                        rows[m] += 1
                    offset = row.index(max(row)) - i
                    if abs(offset) <= reach:
                        counts[offset] = counts.get(offset, 0) + 1
            for m in names:
                out[m][n, h] = total[m] / rows[m] if rows[m] else 0.0
            most = max(counts.values(), default=0)
            out["positional"][n, h] = most / rows["first"] if rows["first"] else 0.0
            out["offset"][n, h] = min((o for o, c in counts.items() if c == most), default=-reach)
    return out


def merge_words(w, groups):
    """Word-level weights by loops: to a word the sum over its pieces, from a word the mean
    over its pieces. ``w`` (T, T), ``groups`` the tokens of each word."""
    return np.array([[sum(float(w[i][j]) for i in a for j in b) / len(a) for b in groups]
                     for a in groups])  # fmt: skip


def scaling_measures(scores, saturated=0.99):
    """The measures of ``attnviz.scaling`` of a (rows, keys) list of scores, by loops: the
    softmax of each row with math.exp, the Jacobian diag(p) − p pᵀ built entry by entry and
    its Frobenius norm summed, the median by sorting, the variance from its definition."""
    flat = [v for row in scores for v in row]
    mean = sum(flat) / len(flat)
    variance = sum((v - mean) ** 2 for v in flat) / len(flat)
    entropies, tops, norms, full = [], [], [], 0
    for row in scores:
        top = max(row)
        e = [math.exp(v - top) for v in row]
        p = [x / sum(e) for x in e]
        entropies.append(-sum(x * math.log(x) for x in p if x > 0))
        tops.append(max(p))
        full += max(p) > saturated
        n = len(p)
        jac = [[(p[i] if i == j else 0.0) - p[i] * p[j] for j in range(n)] for i in range(n)]
        norms.append(math.sqrt(sum(jac[i][j] ** 2 for i in range(n) for j in range(n))))
    norms.sort()
    mid = len(norms) // 2
    median = norms[mid] if len(norms) % 2 else (norms[mid - 1] + norms[mid]) / 2
    return {"variance": variance, "entropy": sum(entropies) / len(scores),
            "top": sum(tops) / len(scores), "jacobian": median,
            "saturated": full / len(scores)}  # fmt: skip
