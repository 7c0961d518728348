#!/usr/bin/env python3
"""Build three tiny random-weight Hugging Face checkpoints and independent reference outputs.

Checkpoints (real on-disk HF layouts, written deterministically):
  tests/data/tiny-hf/gpt2/   GPT2LMHeadModel,   F32, single model.safetensors, tied LM head
  tests/data/tiny-hf/llama/  LlamaForCausalLM,  F16, 2 shards + model.safetensors.index.json
  tests/data/tiny-hf/qwen2/  Qwen2ForCausalLM,  BF16, single model.safetensors, tied LM head

Golden output: tests/golden/tiny_hf_reference.json with, per model, the token ids of TEST_TEXT,
full logits (positions x vocab, 5 decimals) and every layer's attention probabilities
(layers x heads x q x k, 6 decimals). All math is float64 on the weights *as stored*
(i.e. after rounding to F32/F16/BF16).

Only numpy + the `tokenizers` library (to train/write tokenizer.json) + `safetensors` (to
read the files back as a check) are used. No torch, no transformers.

Usage: python3 tests/reference/tiny_hf_reference.py
"""
import json
import math
import os
import struct

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "tiny-hf")
GOLDEN = os.path.join(ROOT, "tests", "golden", "tiny_hf_reference.json")
SEED = 20240607
TEST_TEXT = "hello world, the quick brown fox"
VOCAB_TARGET = 300

CORPUS = [
    "hello world, the quick brown fox jumps over the lazy dog.",
    "The quick brown fox is quick and the lazy dog is lazy.",
    "Hello there! How are you today? I am fine, thank you.",
    "The world is a big place, and the people in the world like to talk.",
    "A fox, a dog and a cat walked into the forest to find some food.",
    "Numbers like 1, 2, 3, 10 and 2024 appear in text too.",
    "hello hello world world the the fox fox quick quick brown brown",
    "Once upon a time there was a small model that learned to speak.",
]
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
          " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")


# ----------------------------------------------------------------------------- tokenizer
def build_tokenizer(special_tokens):
    """Byte-level BPE (GPT-2 style) trained on CORPUS. Specials get the first ids (0, 1, ...)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_TARGET, special_tokens=special_tokens, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return tok


# ----------------------------------------------------------------------------- dtypes
def to_bf16_bits(x):
    """f32 -> bf16 bit patterns (uint16), round-to-nearest-even on the f32 bit pattern."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = bits + 0x7FFF + ((bits >> 16) & 1)
    return (bits >> 16).astype(np.uint16)


def from_bf16_bits(b):
    return (b.astype(np.uint32) << 16).view(np.float32)


def quantize(x, dtype):
    """Round a float64 array to the storage dtype. Returns (raw little-endian bytes, float64 values)."""
    if dtype == "F32":
        a = x.astype(np.float32)
        return a.astype("<f4").tobytes(), a.astype(np.float64)
    if dtype == "F16":
        a = x.astype(np.float16)
        return a.astype("<f2").tobytes(), a.astype(np.float64)
    if dtype == "BF16":
        b = to_bf16_bits(x.astype(np.float32))
        return b.astype("<u2").tobytes(), from_bf16_bits(b).astype(np.float64)
    raise ValueError(dtype)


# ----------------------------------------------------------------------------- safetensors writer
def write_safetensors(path, tensors):
    """tensors: {name: (dtype, shape, raw_bytes)}. Hand-written file: u64 LE header length, JSON
    header (sorted names, data_offsets relative to the data section, `__metadata__` {"format":"pt"}),
    header padded with spaces to a multiple of 8, then the concatenated raw data in name order."""
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
    return off  # bytes of tensor data


# ----------------------------------------------------------------------------- weights
class Weights:
    """Generates random weights, rounds them to the storage dtype, keeps the stored values (f64)."""

    def __init__(self, rng, dtype):
        self.rng, self.dtype, self.raw, self.val = rng, dtype, {}, {}

    def add(self, name, shape, kind):
        if kind == "mat":
            x = self.rng.normal(0.0, 0.2, shape)
        elif kind == "norm":
            x = 1.0 + self.rng.normal(0.0, 0.1, shape)
        else:  # bias
            x = self.rng.normal(0.0, 0.1, shape)
        raw, val = quantize(x, self.dtype)
        self.raw[name] = (self.dtype, shape, raw)
        self.val[name] = val

    def __getitem__(self, name):
        return self.val[name]


# ----------------------------------------------------------------------------- math helpers
def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def causal_attention(q, k, v):
    """q: (H, T, d), k/v: (H, T, d) (already expanded for GQA). Returns out (T, H*d), probs (H, T, T)."""
    H, T, d = q.shape
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
    scores = np.where(np.tril(np.ones((T, T), dtype=bool)), scores, -np.inf)
    probs = softmax(scores)
    out = (probs @ v).transpose(1, 0, 2).reshape(T, H * d)
    return out, probs


def rope_half_split(x, theta):
    """HF rotate_half RoPE: x (H, T, d); pairs (x[i], x[i + d/2]) rotated by pos * theta^(-2i/d)."""
    H, T, d = x.shape
    inv_freq = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)  # (d/2,)
    ang = np.arange(T, dtype=np.float64)[:, None] * inv_freq[None, :]  # (T, d/2)
    cos = np.concatenate([np.cos(ang), np.cos(ang)], -1)
    sin = np.concatenate([np.sin(ang), np.sin(ang)], -1)
    rot = np.concatenate([-x[..., d // 2:], x[..., : d // 2]], -1)
    return x * cos + rot * sin


# ----------------------------------------------------------------------------- GPT-2
def build_gpt2(rng, vocab):
    cfg = dict(n_embd=64, n_head=4, n_layer=2, n_positions=64, vocab_size=vocab, layer_norm_epsilon=1e-5)
    E, L = cfg["n_embd"], cfg["n_layer"]
    w = Weights(rng, "F32")
    w.add("wte.weight", (vocab, E), "mat")
    w.add("wpe.weight", (cfg["n_positions"], E), "mat")
    for i in range(L):
        p = f"h.{i}."
        w.add(p + "ln_1.weight", (E,), "norm"); w.add(p + "ln_1.bias", (E,), "bias")
        # Conv1D layout: weight stored (in_features, out_features); y = x @ W + b
        w.add(p + "attn.c_attn.weight", (E, 3 * E), "mat"); w.add(p + "attn.c_attn.bias", (3 * E,), "bias")
        w.add(p + "attn.c_proj.weight", (E, E), "mat"); w.add(p + "attn.c_proj.bias", (E,), "bias")
        w.add(p + "ln_2.weight", (E,), "norm"); w.add(p + "ln_2.bias", (E,), "bias")
        w.add(p + "mlp.c_fc.weight", (E, 4 * E), "mat"); w.add(p + "mlp.c_fc.bias", (4 * E,), "bias")
        w.add(p + "mlp.c_proj.weight", (4 * E, E), "mat"); w.add(p + "mlp.c_proj.bias", (E,), "bias")
    w.add("ln_f.weight", (E,), "norm"); w.add("ln_f.bias", (E,), "bias")
    return cfg, w


def forward_gpt2(cfg, w, ids):
    E, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    T, d = len(ids), E // H
    x = w["wte.weight"][ids] + w["wpe.weight"][np.arange(T)]
    attn = []
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # (T, 3E): [q | k | v]
        q, k, v = (qkv[:, j * E:(j + 1) * E].reshape(T, H, d).transpose(1, 0, 2) for j in range(3))
        o, probs = causal_attention(q, k, v)
        attn.append(probs)
        x = x + o @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return x @ w["wte.weight"].T, np.stack(attn)  # tied LM head


# ----------------------------------------------------------------------------- Llama / Qwen2
def build_llama_like(rng, vocab, dtype, qkv_bias, tied):
    cfg = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
               num_hidden_layers=2, vocab_size=vocab, rms_norm_eps=1e-5)
    E, F = cfg["hidden_size"], cfg["intermediate_size"]
    d = E // cfg["num_attention_heads"]
    KV = cfg["num_key_value_heads"] * d
    w = Weights(rng, dtype)
    w.add("model.embed_tokens.weight", (vocab, E), "mat")
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w.add(p + "input_layernorm.weight", (E,), "norm")
        # nn.Linear layout: weight stored (out_features, in_features); y = x @ W.T (+ b)
        for n, out in (("q", E), ("k", KV), ("v", KV)):
            w.add(p + f"self_attn.{n}_proj.weight", (out, E), "mat")
            if qkv_bias:
                w.add(p + f"self_attn.{n}_proj.bias", (out,), "bias")
        w.add(p + "self_attn.o_proj.weight", (E, E), "mat")
        w.add(p + "post_attention_layernorm.weight", (E,), "norm")
        w.add(p + "mlp.gate_proj.weight", (F, E), "mat")
        w.add(p + "mlp.up_proj.weight", (F, E), "mat")
        w.add(p + "mlp.down_proj.weight", (E, F), "mat")
    w.add("model.norm.weight", (E,), "norm")
    if not tied:
        w.add("lm_head.weight", (vocab, E), "mat")
    return cfg, w


def forward_llama_like(cfg, w, ids, theta, qkv_bias, tied):
    E, H, KVH = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    T, d, eps = len(ids), E // H, cfg["rms_norm_eps"]
    x = w["model.embed_tokens.weight"][ids]
    attn = []
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        proj = {}
        for n in ("q", "k", "v"):
            y = h @ w[p + f"self_attn.{n}_proj.weight"].T
            if qkv_bias:
                y = y + w[p + f"self_attn.{n}_proj.bias"]
            proj[n] = y.reshape(T, -1, d).transpose(1, 0, 2)  # (heads, T, d)
        q = rope_half_split(proj["q"], theta)
        k = rope_half_split(proj["k"], theta)
        rep = H // KVH  # GQA: query head h uses kv head h // rep
        k, v = np.repeat(k, rep, axis=0), np.repeat(proj["v"], rep, axis=0)
        o, probs = causal_attention(q, k, v)
        attn.append(probs)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
        x = x + g @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]
    return x @ head.T, np.stack(attn)


# ----------------------------------------------------------------------------- writing
def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def write_common(name, tok, config, tok_config):
    out = os.path.join(DATA, name)
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"), pretty=True)
    write_json(os.path.join(out, "config.json"), config)
    write_json(os.path.join(out, "tokenizer_config.json"), tok_config)
    return out


def make_gpt2(rng):
    tok = build_tokenizer(["<|endoftext|>"])
    V, eot = tok.get_vocab_size(), tok.token_to_id("<|endoftext|>")
    cfg, w = build_gpt2(rng, V)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
              "bos_token_id": eot, "eos_token_id": eot, "n_ctx": cfg["n_positions"], "torch_dtype": "float32",
              "tie_word_embeddings": True, **cfg}
    tok_config = {"tokenizer_class": "GPT2TokenizerFast", "bos_token": "<|endoftext|>",
                  "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "add_prefix_space": False,
                  "model_max_length": cfg["n_positions"]}
    out = write_common("gpt2", tok, config, tok_config)
    write_safetensors(os.path.join(out, "model.safetensors"), w.raw)
    return tok, cfg, w, ["model.safetensors"], lambda ids: forward_gpt2(cfg, w, ids)


def make_llama_like(rng, name, dtype, theta, qkv_bias, tied, sharded):
    tok = build_tokenizer(["<|im_start|>", "<|im_end|>", "<|endoftext|>"])
    V = tok.get_vocab_size()
    cfg, w = build_llama_like(rng, V, dtype, qkv_bias, tied)
    arch = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}[name]
    torch_dtype = {"F16": "float16", "BF16": "bfloat16"}[dtype]
    config = {"architectures": [arch], "model_type": name, "hidden_act": "silu", **cfg,
              "max_position_embeddings": 128, "rope_theta": theta, "tie_word_embeddings": tied,
              "torch_dtype": torch_dtype, "bos_token_id": None, "eos_token_id": tok.token_to_id("<|im_end|>")}
    if name == "llama":
        config.update(attention_bias=False, mlp_bias=False)
    else:
        config.update(use_sliding_window=False, sliding_window=None)
    tok_config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": None, "eos_token": "<|im_end|>",
                  "pad_token": "<|endoftext|>", "chat_template": CHATML, "model_max_length": 128}
    out = write_common(name, tok, config, tok_config)
    if sharded:
        # shard 1: embeddings + layer 0; shard 2: everything else (layer 1, final norm, lm_head)
        files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        first = lambda n: n == "model.embed_tokens.weight" or n.startswith("model.layers.0.")
        weight_map, total = {}, 0
        for idx, fname in enumerate(files):
            part = {n: t for n, t in w.raw.items() if first(n) == (idx == 0)}
            total += write_safetensors(os.path.join(out, fname), part)
            weight_map.update({n: fname for n in part})
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        write_json(os.path.join(out, "model.safetensors.index.json"), index)
        files = files + ["model.safetensors.index.json"]
    else:
        files = ["model.safetensors"]
        write_safetensors(os.path.join(out, files[0]), w.raw)
    return tok, cfg, w, files, lambda ids: forward_llama_like(cfg, w, ids, theta, qkv_bias, tied)


# ----------------------------------------------------------------------------- checks
def read_safetensors_raw(path):
    """Independent reader (handles BF16 too): {name: float64 array}."""
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        buf = data[8 + n + a:8 + n + b]
        if info["dtype"] == "BF16":
            arr = from_bf16_bits(np.frombuffer(buf, "<u2"))
        else:
            arr = np.frombuffer(buf, {"F32": "<f4", "F16": "<f2"}[info["dtype"]])
        out[name] = arr.astype(np.float64).reshape(info["shape"])
    return out


def check(name, w, files, logits, attn, ids):
    out = os.path.join(DATA, name)
    loaded = {}
    for f in files:
        if f.endswith(".safetensors"):
            loaded.update(read_safetensors_raw(os.path.join(out, f)))
    assert sorted(loaded) == sorted(w.val), name
    for n, v in w.val.items():
        assert np.array_equal(loaded[n], v), n
    if w.dtype != "BF16":  # cross-check with the official safetensors reader (numpy has no bf16)
        from safetensors import safe_open
        for f in files:
            if f.endswith(".safetensors"):
                with safe_open(os.path.join(out, f), framework="numpy") as sf:
                    for n in sf.keys():
                        assert np.array_equal(sf.get_tensor(n).astype(np.float64), w.val[n]), n
    T = len(ids)
    assert logits.shape == (T, w.val[next(n for n in w.val if "wte" in n or "embed" in n)].shape[0])
    assert np.all(np.isfinite(logits))
    assert np.allclose(attn.sum(-1), 1.0, atol=1e-12)
    assert np.all(attn[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] == 0.0)


def r(x, nd):
    """Round for JSON; normalise -0.0 to 0.0 so output is stable."""
    return (np.round(x, nd) + 0.0).tolist()


def main():
    rng = np.random.default_rng(SEED)
    builders = [
        ("gpt2", lambda: make_gpt2(rng)),
        ("llama", lambda: make_llama_like(rng, "llama", "F16", 10000.0, False, False, True)),
        ("qwen2", lambda: make_llama_like(rng, "qwen2", "BF16", 1000000.0, True, True, False)),
    ]
    lines = ['{', '"script":"tests/reference/tiny_hf_reference.py",', f'"seed":{SEED},',
             f'"text":{json.dumps(TEST_TEXT)},', '"models":{']
    for mi, (name, build) in enumerate(builders):
        tok, cfg, w, files, fwd = build()
        ids = tok.encode(TEST_TEXT, add_special_tokens=False).ids
        assert tok.decode(ids) == TEST_TEXT
        logits, attn = fwd(np.array(ids))
        check(name, w, files, logits, attn, ids)
        meta = {"dir": f"tests/data/tiny-hf/{name}", "dtype": w.dtype, "files": files,
                "vocab_size": tok.get_vocab_size(), "text": TEST_TEXT, "token_ids": ids,
                "tokens": tok.encode(TEST_TEXT, add_special_tokens=False).tokens,
                "special_ids": {t: tok.token_to_id(t) for t in
                                ("<|endoftext|>", "<|im_start|>", "<|im_end|>") if tok.token_to_id(t) is not None},
                "logits_shape": list(logits.shape), "attn_shape": list(attn.shape)}
        body = json.dumps(meta, separators=(",", ":"))[:-1]
        lines.append(f'"{name}":{body},')
        lines.append('"logits":' + json.dumps(r(logits, 5), separators=(",", ":")) + ',')
        lines.append('"attn":' + json.dumps(r(attn, 6), separators=(",", ":")))
        lines.append('}' + (',' if mi < len(builders) - 1 else ''))
        print(f"{name}: dtype={w.dtype} vocab={tok.get_vocab_size()} ids={ids} "
              f"argmax={logits.argmax(-1).tolist()} |logits|max={np.abs(logits).max():.3f}")
    lines += ['}', '}']
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "w") as f:
        f.write("\n".join(lines) + "\n")
    json.load(open(GOLDEN))  # well-formed


if __name__ == "__main__":
    main()
