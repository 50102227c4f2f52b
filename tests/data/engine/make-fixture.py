#!/usr/bin/env python3
"""Makes the small random-weight reference cases of tests/data/engine/: a
GGUF file (F32 weights) and the logits of every position of a token sequence,
computed here by a plain float64 forward pass written from the architectures'
definitions (Llama: Touvron et al. 2023; Qwen2 q/k/v bias; Qwen3 per-head
RMSNorm of q and k; RoPE normal/NeoX pairing; YaRN and Llama 3 frequency
scaling as llama.cpp applies them). Python standard library only.

    python3 make-fixture.py            # rewrites every case below
"""
import math
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- GGUF writer (GGUF v3, little-endian; ggml docs/gguf.md) ----

T_U32, T_F32, T_STR, T_ARR = 4, 6, 8, 9
GGML_F32 = 0


def s_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv_bytes(key, val):
    out = s_str(key)
    if isinstance(val, str):
        return out + struct.pack("<I", T_STR) + s_str(val)
    if isinstance(val, float):
        return out + struct.pack("<If", T_F32, val)
    if isinstance(val, int):
        return out + struct.pack("<II", T_U32, val)
    if isinstance(val, list):  # list of strings
        out += struct.pack("<IIQ", T_ARR, T_STR, len(val))
        return out + b"".join(s_str(v) for v in val)
    raise TypeError(key)


def write_gguf(path, kvs, tensors):
    """tensors: list of (name, shape ne0-first, flat float list)."""
    align = 32
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    head += b"".join(kv_bytes(k, v) for k, v in kvs)
    data = b""
    infos = b""
    for name, shape, vals in tensors:
        pad = (-len(data)) % align
        data += b"\0" * pad
        infos += s_str(name) + struct.pack("<I", len(shape))
        infos += b"".join(struct.pack("<Q", n) for n in shape)
        infos += struct.pack("<IQ", GGML_F32, len(data))
        data += struct.pack("<%df" % len(vals), *vals)
    blob = head + infos
    blob += b"\0" * ((-len(blob)) % align)
    with open(path, "wb") as f:
        f.write(blob + data)


# ---- reference forward pass (float64) ----

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def rmsnorm(x, w, eps):
    r = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + eps)
    return [v * r * wi for v, wi in zip(x, w)]


def matvec(W, x):  # W: rows of len(x)
    return [sum(a * b for a, b in zip(row, x)) for row in W]


def rope_freqs(c):
    n_rot, theta = c["n_rot"], c["theta"]
    out = []
    for i in range(n_rot // 2):
        f = theta ** (-2.0 * i / n_rot)
        sc = c.get("scaling")
        if sc == "linear":
            f /= c["factor"]
        elif sc == "yarn":
            orig, factor = c["orig_ctx"], c["factor"]
            def corr(turns):
                return n_rot * math.log(orig / (turns * 2 * math.pi)) / (2 * math.log(theta))
            lo = max(0.0, math.floor(corr(32.0)))
            hi = min(n_rot - 1.0, math.ceil(corr(1.0)))
            y = (i - lo) / max(0.001, hi - lo)
            mix = 1.0 - min(1.0, max(0.0, y))
            f = f / factor * (1 - mix) + f * mix
        if "freq_div" in c:
            f /= c["freq_div"][i]
        out.append(f)
    mscale = 1.0
    if c.get("scaling") == "yarn":
        mscale = 1.0 + 0.1 * math.log(c["factor"])
    return out, mscale


def rope(v, pos, freqs, mscale, neox):
    v = list(v)
    half = len(freqs)
    for i, f in enumerate(freqs):
        a, b = (i, i + half) if neox else (2 * i, 2 * i + 1)
        cs, sn = math.cos(pos * f) * mscale, math.sin(pos * f) * mscale
        x0, x1 = v[a], v[b]
        v[a], v[b] = x0 * cs - x1 * sn, x0 * sn + x1 * cs
    return v


def forward(c, w, tokens):
    nh, nkv, hd, eps = c["n_head"], c["n_kv"], c["head_dim"], c["eps"]
    rep = nh // nkv
    freqs, mscale = rope_freqs(c)
    neox = c["arch"] != "llama"
    ks = [[] for _ in range(c["n_layer"])]
    vs = [[] for _ in range(c["n_layer"])]
    logits = []
    for pos, tok in enumerate(tokens):
        x = list(w["token_embd"][tok])
        for l in range(c["n_layer"]):
            L = w["layers"][l]
            xb = rmsnorm(x, L["attn_norm"], eps)
            q, k, v = matvec(L["wq"], xb), matvec(L["wk"], xb), matvec(L["wv"], xb)
            if "bq" in L:
                q = [a + b for a, b in zip(q, L["bq"])]
                k = [a + b for a, b in zip(k, L["bk"])]
                v = [a + b for a, b in zip(v, L["bv"])]
            qh = [q[h * hd:(h + 1) * hd] for h in range(nh)]
            kh = [k[h * hd:(h + 1) * hd] for h in range(nkv)]
            vh = [v[h * hd:(h + 1) * hd] for h in range(nkv)]
            if "q_norm" in L:
                qh = [rmsnorm(t, L["q_norm"], eps) for t in qh]
                kh = [rmsnorm(t, L["k_norm"], eps) for t in kh]
            qh = [rope(t, pos, freqs, mscale, neox) for t in qh]
            kh = [rope(t, pos, freqs, mscale, neox) for t in kh]
            ks[l].append(kh)
            vs[l].append(vh)
            att = []
            for h in range(nh):
                g = h // rep
                sc = [sum(a * b for a, b in zip(qh[h], ks[l][t][g])) / math.sqrt(hd)
                      for t in range(pos + 1)]
                m = max(sc)
                e = [math.exp(s - m) for s in sc]
                z = sum(e)
                o = [0.0] * hd
                for t in range(pos + 1):
                    for d in range(hd):
                        o[d] += e[t] / z * vs[l][t][g][d]
                att += o
            x = [a + b for a, b in zip(x, matvec(L["wo"], att))]
            xb = rmsnorm(x, L["ffn_norm"], eps)
            gt, up = matvec(L["w_gate"], xb), matvec(L["w_up"], xb)
            hb = [gv / (1 + math.exp(-gv)) * u for gv, u in zip(gt, up)]
            x = [a + b for a, b in zip(x, matvec(L["w_down"], hb))]
        x = rmsnorm(x, w["output_norm"], eps)
        logits.append(matvec(w["output"], x))
    return logits


# ---- cases ----

def make(name, c, tokens, seed):
    rnd = random.Random(seed)
    d, ff, nv = c["dim"], c["ff"], c["vocab"]
    nh, nkv, hd = c["n_head"], c["n_kv"], c["head_dim"]

    def mat(rows, cols, std):
        return [[f32(rnd.gauss(0, std)) for _ in range(cols)] for _ in range(rows)]

    def vec(n, mean, std):
        return [f32(mean + rnd.gauss(0, std)) for _ in range(n)]

    w = {"token_embd": mat(nv, d, 1.0), "output_norm": vec(d, 1.0, 0.1), "layers": []}
    w["output"] = w["token_embd"] if c.get("tied") else mat(nv, d, 0.3)
    for _ in range(c["n_layer"]):
        L = {
            "attn_norm": vec(d, 1.0, 0.1), "ffn_norm": vec(d, 1.0, 0.1),
            "wq": mat(nh * hd, d, 0.4), "wk": mat(nkv * hd, d, 0.4), "wv": mat(nkv * hd, d, 0.4),
            "wo": mat(d, nh * hd, 0.3),
            "w_gate": mat(ff, d, 0.3), "w_up": mat(ff, d, 0.3), "w_down": mat(d, ff, 0.3),
        }
        if c["arch"] == "qwen2":
            L["bq"], L["bk"], L["bv"] = vec(nh * hd, 0, 0.3), vec(nkv * hd, 0, 0.3), vec(nkv * hd, 0, 0.3)
        if c["arch"] == "qwen3":
            L["q_norm"], L["k_norm"] = vec(hd, 1.0, 0.2), vec(hd, 1.0, 0.2)
        w["layers"].append(L)
    if c.get("llama3_freqs"):
        # Llama 3.1 factors (factor 8, low 1, high 4, original context 64 here)
        fac, lo, hi, orig = 8.0, 1.0, 4.0, 64
        div = []
        for i in range(c["n_rot"] // 2):
            f = c["theta"] ** (-2.0 * i / c["n_rot"])
            wl = 2 * math.pi / f
            if wl < orig / hi:
                div.append(1.0)
            elif wl > orig / lo:
                div.append(fac)
            else:
                s = (orig / wl - lo) / (hi - lo)
                div.append(f32(1.0 / ((1 - s) / fac + s)))
        c["freq_div"] = div

    a = c["arch"]
    kvs = [
        ("general.architecture", a), ("general.name", name),
        (a + ".block_count", c["n_layer"]), (a + ".context_length", 256),
        (a + ".embedding_length", d), (a + ".feed_forward_length", ff),
        (a + ".attention.head_count", nh), (a + ".attention.head_count_kv", nkv),
        (a + ".attention.layer_norm_rms_epsilon", c["eps"]), (a + ".rope.freq_base", c["theta"]),
    ]
    if hd != d // nh:
        kvs += [(a + ".attention.key_length", hd), (a + ".attention.value_length", hd)]
    if c["n_rot"] != hd:
        kvs.append((a + ".rope.dimension_count", c["n_rot"]))
    if c.get("scaling") in ("linear", "yarn"):
        kvs += [(a + ".rope.scaling.type", c["scaling"]), (a + ".rope.scaling.factor", c["factor"])]
    if c.get("scaling") == "yarn":
        kvs.append((a + ".rope.scaling.original_context_length", c["orig_ctx"]))

    def flat(m):
        return [v for row in m for v in row]

    T = [("token_embd.weight", [d, nv], flat(w["token_embd"])),
         ("output_norm.weight", [d], w["output_norm"])]
    if not c.get("tied"):
        T.append(("output.weight", [d, nv], flat(w["output"])))
    if "freq_div" in c:
        T.append(("rope_freqs.weight", [c["n_rot"] // 2], c["freq_div"]))
    for i, L in enumerate(w["layers"]):
        p = "blk.%d." % i
        T += [(p + "attn_norm.weight", [d], L["attn_norm"]),
              (p + "attn_q.weight", [d, nh * hd], flat(L["wq"])),
              (p + "attn_k.weight", [d, nkv * hd], flat(L["wk"])),
              (p + "attn_v.weight", [d, nkv * hd], flat(L["wv"])),
              (p + "attn_output.weight", [nh * hd, d], flat(L["wo"])),
              (p + "ffn_norm.weight", [d], L["ffn_norm"]),
              (p + "ffn_gate.weight", [d, ff], flat(L["w_gate"])),
              (p + "ffn_up.weight", [d, ff], flat(L["w_up"])),
              (p + "ffn_down.weight", [ff, d], flat(L["w_down"]))]
        if "bq" in L:
            T += [(p + "attn_q.bias", [nh * hd], L["bq"]), (p + "attn_k.bias", [nkv * hd], L["bk"]),
                  (p + "attn_v.bias", [nkv * hd], L["bv"])]
        if "q_norm" in L:
            T += [(p + "attn_q_norm.weight", [hd], L["q_norm"]),
                  (p + "attn_k_norm.weight", [hd], L["k_norm"])]

    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    write_gguf(os.path.join(out, "model.gguf"), kvs, T)
    logits = forward(c, w, tokens)
    with open(os.path.join(out, "logits.txt"), "w") as f:
        for row in logits:
            f.write(" ".join("%.6f" % v for v in row) + "\n")
    with open(os.path.join(out, "case.txt"), "w") as f:
        f.write("# Made by ../make-fixture.py (random weights, float64 reference forward pass):\n")
        f.write("# %s\n" % c["desc"])
        f.write("model = model.gguf\ntokens = %s\nlogits = logits.txt\ntolerance = 1e-4\n"
                % " ".join(map(str, tokens)))


TOKENS = [1, 7, 30, 2, 19, 19, 5, 11, 40, 3]

CASES = {
    "qwen2-tiny": dict(seed=1002, desc="qwen2: q/k/v biases, NeoX RoPE, GQA 4/2, untied output",
                       arch="qwen2", dim=32, ff=48, vocab=48, n_layer=2, n_head=4, n_kv=2,
                       head_dim=8, n_rot=8, eps=1e-6, theta=1000000.0),
    "qwen3-tiny": dict(seed=1003, desc="qwen3: per-head q/k RMSNorm, head dim 16 != dim/heads, tied output",
                       arch="qwen3", dim=32, ff=40, vocab=48, n_layer=2, n_head=4, n_kv=2,
                       head_dim=16, n_rot=16, eps=1e-6, theta=1000000.0, tied=True),
    "llama-yarn-tiny": dict(seed=1001, desc="llama: YaRN factor 4 over an original context of 16, MQA 4/1",
                            arch="llama", dim=32, ff=40, vocab=48, n_layer=2, n_head=4, n_kv=1,
                            head_dim=8, n_rot=8, eps=1e-5, theta=10000.0, scaling="yarn",
                            factor=4.0, orig_ctx=16),
    "llama-ropefreqs-tiny": dict(seed=1000, desc="llama: Llama 3.1 rope_freqs tensor, partial rotary (8 of 16)",
                                 arch="llama", dim=32, ff=40, vocab=48, n_layer=2, n_head=2,
                                 n_kv=2, head_dim=16, n_rot=8, eps=1e-5, theta=500000.0,
                                 llama3_freqs=True),
    "llama-hd32-tiny": dict(seed=1004, desc="llama: head dim 32 (one Q8_0 block per head), GQA 2/1",
                            arch="llama", dim=64, ff=96, vocab=48, n_layer=2, n_head=2, n_kv=1,
                            head_dim=32, n_rot=32, eps=1e-5, theta=10000.0),
}

if __name__ == "__main__":
    for name, c in sorted(CASES.items()):
        make(name, dict(c), TOKENS, c["seed"])
        print("wrote", name)
