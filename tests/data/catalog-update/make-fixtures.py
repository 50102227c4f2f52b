#!/usr/bin/env python3
"""Writes the Hub fixtures of tests/test-catalog-update.c (see README.md).

Each model's config.json keys are the published ones (as data/models.json
records them, with their sources); the safetensors headers are generated from
the config with transformers' tensor names (LlamaForCausalLM,
Qwen3ForCausalLM), BF16, data offsets laid end to end. Run from this
directory: python3 make-fixtures.py
"""
import json
import os

QWEN3_0_6B = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None,
    "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
}
QWEN3_1_7B = dict(QWEN3_0_6B, hidden_size=2048, intermediate_size=6144)
LLAMA_3_2_1B = {
    "architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 128000,
    "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
    "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "vocab_size": 128256,
}
QWEN1_5_MOE_A2_7B = {
    "architectures": ["Qwen2MoeForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "decoder_sparse_step": 1, "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 2048,
    "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 8192,
    "max_window_layers": 21, "model_type": "qwen2_moe", "moe_intermediate_size": 1408,
    "norm_topk_prob": False, "num_attention_heads": 16, "num_experts": 60,
    "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_key_value_heads": 16,
    "output_router_logits": False, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "router_aux_loss_coef": 0.001, "shared_expert_intermediate_size": 5632,
    "sliding_window": 32768, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
}


def moe_tensors(c):
    """Qwen2MoeForCausalLM: q/k/v biases, 60 routed experts, a gated shared expert."""
    h, nh, kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd, fe, fs, ne = h // nh, c["moe_intermediate_size"], c["shared_expert_intermediate_size"], c["num_experts"]
    t = {"model.embed_tokens.weight": [c["vocab_size"], h], "model.norm.weight": [h],
         "lm_head.weight": [c["vocab_size"], h]}
    routed = 0
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = [h]
        t[p + "post_attention_layernorm.weight"] = [h]
        for x, rows in (("q", nh * hd), ("k", kv * hd), ("v", kv * hd)):
            t[p + f"self_attn.{x}_proj.weight"] = [rows, h]
            t[p + f"self_attn.{x}_proj.bias"] = [rows]
        t[p + "self_attn.o_proj.weight"] = [h, nh * hd]
        t[p + "mlp.gate.weight"] = [ne, h]
        t[p + "mlp.shared_expert_gate.weight"] = [1, h]
        t[p + "mlp.shared_expert.gate_proj.weight"] = [fs, h]
        t[p + "mlp.shared_expert.up_proj.weight"] = [fs, h]
        t[p + "mlp.shared_expert.down_proj.weight"] = [h, fs]
        for e in range(ne):
            q = p + f"mlp.experts.{e}."
            t[q + "gate_proj.weight"] = [fe, h]
            t[q + "up_proj.weight"] = [fe, h]
            t[q + "down_proj.weight"] = [h, fe]
            routed += 3 * fe * h
    return t, routed


def tensors(c, lm_head):
    h, ff, hd = c["hidden_size"], c["intermediate_size"], c["head_dim"]
    nh, kv = c["num_attention_heads"], c["num_key_value_heads"]
    t = {"model.embed_tokens.weight": [c["vocab_size"], h], "model.norm.weight": [h]}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = [h]
        t[p + "post_attention_layernorm.weight"] = [h]
        t[p + "self_attn.q_proj.weight"] = [nh * hd, h]
        t[p + "self_attn.k_proj.weight"] = [kv * hd, h]
        t[p + "self_attn.v_proj.weight"] = [kv * hd, h]
        t[p + "self_attn.o_proj.weight"] = [h, nh * hd]
        if c["model_type"] == "qwen3":
            t[p + "self_attn.q_norm.weight"] = [hd]
            t[p + "self_attn.k_norm.weight"] = [hd]
        t[p + "mlp.gate_proj.weight"] = [ff, h]
        t[p + "mlp.up_proj.weight"] = [ff, h]
        t[p + "mlp.down_proj.weight"] = [h, ff]
    if lm_head:
        t["lm_head.weight"] = [c["vocab_size"], h]
    return t


def header(ts):
    """The JSON header of a BF16 safetensors file holding tensors ts."""
    out, off = {"__metadata__": {"format": "pt"}}, 0
    for name in sorted(ts):
        n = 2
        for d in ts[name]:
            n *= d
        out[name] = {"dtype": "BF16", "shape": ts[name], "data_offsets": [off, off + n]}
        off += n
    return out, off


def numel(ts):
    total = 0
    for s in ts.values():
        n = 1
        for d in s:
            n *= d
        total += n
    return total


def write(path, obj):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1 if not path.endswith(".header.json") else None,
                  separators=None if not path.endswith(".header.json") else (",", ":"))
        f.write("\n")


def info(repo, pipeline, tags, card, created, files, total, gated=False):
    return {
        "id": repo, "modelId": repo, "author": repo.split("/")[0], "private": False,
        "disabled": False, "gated": gated, "pipeline_tag": pipeline, "tags": tags,
        "library_name": "transformers", "createdAt": created, "cardData": card,
        "siblings": [{"rfilename": f} for f in files],
        "safetensors": {"parameters": {"BF16": total}, "total": total},
    }


expected = []

# Qwen/Qwen3-0.6B: one model.safetensors (the checkpoint stores lm_head.weight)
t = tensors(QWEN3_0_6B, True)
hdr, _ = header(t)
write("qwen3-0.6b/config.json", QWEN3_0_6B)
write("qwen3-0.6b/model.safetensors.header.json", hdr)
write("qwen3-0.6b/info.json", info(
    "Qwen/Qwen3-0.6B", "text-generation",
    ["transformers", "safetensors", "qwen3", "text-generation", "conversational",
     "base_model:Qwen/Qwen3-0.6B-Base", "license:apache-2.0", "region:us"],
    {"library_name": "transformers", "license": "apache-2.0", "pipeline_tag": "text-generation"},
    "2025-04-29T00:00:00.000Z",
    [".gitattributes", "LICENSE", "README.md", "config.json", "generation_config.json",
     "merges.txt", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json"],
    numel(t)))
expected.append({"repo": "Qwen/Qwen3-0.6B", "id": "qwen3-0.6b", "arch": "qwen3",
                 "params_total": numel(t), "tensors": len(t), "files": 1,
                 "context_length": 40960, "license": "apache-2.0", "release_date": "2025-04-29",
                 "tags": ["general", "chat"]})

# Qwen/Qwen3-1.7B: two shards and model.safetensors.index.json
t = tensors(QWEN3_1_7B, True)
names = sorted(t)
first = [n for n in names if n.startswith("model.embed") or
         (n.startswith("model.layers.") and int(n.split(".")[2]) < 14)]
second = [n for n in names if n not in first]
wm, size = {}, 0
for i, part in enumerate([first, second]):
    fname = f"model-0000{i + 1}-of-00002.safetensors"
    hdr, nbytes = header({n: t[n] for n in part})
    size += nbytes
    write(f"qwen3-1.7b/{fname}.header.json", hdr)
    for n in part:
        wm[n] = fname
write("qwen3-1.7b/config.json", QWEN3_1_7B)
write("qwen3-1.7b/model.safetensors.index.json", {"metadata": {"total_size": size}, "weight_map": wm})
write("qwen3-1.7b/info.json", info(
    "Qwen/Qwen3-1.7B", "text-generation",
    ["transformers", "safetensors", "qwen3", "text-generation", "conversational",
     "license:apache-2.0", "region:us"],
    {"library_name": "transformers", "license": "apache-2.0", "pipeline_tag": "text-generation"},
    "2025-04-29T00:00:00.000Z",
    ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
     "model.safetensors.index.json", "tokenizer.json"],
    numel(t)))
expected.append({"repo": "Qwen/Qwen3-1.7B", "id": "qwen3-1.7b", "arch": "qwen3",
                 "params_total": numel(t), "tensors": len(t), "files": 2,
                 "context_length": 40960, "license": "apache-2.0", "release_date": "2025-04-29",
                 "tags": ["general", "chat"]})

# meta-llama/Llama-3.2-1B: gated; tied embeddings, no lm_head.weight stored
t = tensors(LLAMA_3_2_1B, False)
hdr, _ = header(t)
write("llama-3.2-1b/config.json", LLAMA_3_2_1B)
write("llama-3.2-1b/model.safetensors.header.json", hdr)
write("llama-3.2-1b/info.json", info(
    "meta-llama/Llama-3.2-1B", "text-generation",
    ["transformers", "safetensors", "llama", "text-generation", "facebook", "meta", "pytorch",
     "llama-3", "en", "license:llama3.2", "region:us"],
    {"language": ["en"], "library_name": "transformers", "license": "llama3.2",
     "pipeline_tag": "text-generation"},
    "2024-09-25T00:00:00.000Z",
    ["LICENSE.txt", "README.md", "config.json", "model.safetensors", "tokenizer.json"],
    numel(t), gated="manual"))
expected.append({"repo": "meta-llama/Llama-3.2-1B", "id": "llama-3.2-1b", "arch": "llama",
                 "params_total": numel(t), "tensors": len(t), "files": 1,
                 "context_length": 131072, "license": "llama3.2", "release_date": "2024-09-25",
                 "tags": ["general"]})

# Qwen/Qwen1.5-MoE-A2.7B: MoE; active = everything else + routed experts x 4/60
t, routed = moe_tensors(QWEN1_5_MOE_A2_7B)
hdr, _ = header(t)
write("qwen1.5-moe-a2.7b/config.json", QWEN1_5_MOE_A2_7B)
write("qwen1.5-moe-a2.7b/model.safetensors.header.json", hdr)
write("qwen1.5-moe-a2.7b/info.json", info(
    "Qwen/Qwen1.5-MoE-A2.7B", "text-generation",
    ["transformers", "safetensors", "qwen2_moe", "text-generation", "pretrained", "moe", "en",
     "license:other", "region:us"],
    {"language": ["en"], "license": "other", "license_name": "tongyi-qianwen",
     "pipeline_tag": "text-generation", "tags": ["pretrained", "moe"]},
    "2024-03-28T00:00:00.000Z",
    ["config.json", "model.safetensors", "tokenizer.json"], numel(t)))
ne, used = QWEN1_5_MOE_A2_7B["num_experts"], QWEN1_5_MOE_A2_7B["num_experts_per_tok"]
expected.append({"repo": "Qwen/Qwen1.5-MoE-A2.7B", "id": "qwen1.5-moe-a2.7b", "arch": "qwen2moe",
                 "params_total": numel(t), "params_active": numel(t) - routed + routed * used // ne,
                 "tensors": len(t), "files": 1, "context_length": 8192,
                 "license": "tongyi-qianwen", "release_date": "2024-03-28", "tags": ["general"]})

# odd/consolidated: weights under another name; the Hub's safetensors.total is used.
# bin/pytorch-only: no safetensors at all and no count from the Hub.
write("odd/info.json", info("odd/consolidated", "text-generation", ["license:apache-2.0"],
                            {"license": "apache-2.0"}, "2025-05-01T00:00:00.000Z",
                            ["config.json", "consolidated.safetensors"], 751632384))
bare = info("bin/pytorch-only", "text-generation", ["license:apache-2.0"], {"license": "apache-2.0"},
            "2025-05-01T00:00:00.000Z", ["config.json", "pytorch_model.bin"], 0)
del bare["safetensors"]
write("bin/info.json", bare)

# broken/bad-config: model info fine, config.json cut off mid-object
write("broken/info.json", info("broken/bad-config", "text-generation", ["license:mit"],
                               {"license": "mit"}, "2025-01-01T00:00:00.000Z",
                               ["config.json", "model.safetensors"], 1))
with open("broken/config.json", "w") as f:
    f.write('{"architectures": ["LlamaForCausalLM"], "hidden_size": 2048, "num_hidden_')

write("trending.json", [{"id": "Qwen/Qwen3-0.6B", "modelId": "Qwen/Qwen3-0.6B", "likes": 0,
                         "trendingScore": 2, "pipeline_tag": "text-generation",
                         "tags": ["transformers", "text-generation"]},
                        {"id": "Qwen/Qwen3-1.7B", "modelId": "Qwen/Qwen3-1.7B", "likes": 0,
                         "trendingScore": 1, "pipeline_tag": "text-generation",
                         "tags": ["transformers", "text-generation"]}])
write("expected.json", {"models": expected})
