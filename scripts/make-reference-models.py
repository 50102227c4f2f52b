#!/usr/bin/env python3
"""Makes the tiny random-initialised reference models used by the engine tests.

For each architecture: a Hugging Face directory (config.json, model.safetensors
in float32) and reference outputs computed by transformers in float64 from the
same float32 weights:
  tokens.txt   the fixed input ids (one line)
  logits.txt   one line per input position, the logits (%.9e)
  greedy.txt   the ids of 16 greedy tokens after the input, and the smallest
               top-1/top-2 logit gap seen while choosing them (a line "gap X")
  meta.json    versions, seed, how it was made
Runs where torch and transformers are installed:
  python3 scripts/make-reference-models.py OUTDIR
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM

VOCAB = 256
TOKENS = [1, 5, 17, 42, 100, 7, 63, 200, 31, 9, 128, 77]
N_GREEDY = 16

COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
              rms_norm_eps=1e-5, initializer_range=0.15, bos_token_id=1, eos_token_id=2)

MODELS = {
    # Llama 2 style: untied output, rope theta 10000, no scaling.
    "llama": dict(model_type="llama", architectures=["LlamaForCausalLM"], rope_theta=10000.0,
                  tie_word_embeddings=False),
    # Llama 3.x style: tied output, large theta, llama3 rope scaling.
    "llama3": dict(model_type="llama", architectures=["LlamaForCausalLM"], rope_theta=500000.0,
                   tie_word_embeddings=True,
                   rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                     high_freq_factor=4.0, original_max_position_embeddings=64)),
    # Qwen2: q/k/v bias, NeoX rope.
    "qwen2": dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], rope_theta=1000000.0,
                  tie_word_embeddings=False),
    # Qwen3: per-head q/k RMSNorm, head_dim independent of hidden_size.
    "qwen3": dict(model_type="qwen3", architectures=["Qwen3ForCausalLM"], rope_theta=1000000.0,
                  head_dim=32, tie_word_embeddings=True),
    # Mixtral: 4 experts, top 2.
    "mixtral": dict(model_type="mixtral", architectures=["MixtralForCausalLM"], rope_theta=1000000.0,
                    num_local_experts=4, num_experts_per_tok=2, tie_word_embeddings=False),
    # Qwen3-MoE: 4 experts, top 2, normalised top-k weights.
    "qwen3moe": dict(model_type="qwen3_moe", architectures=["Qwen3MoeForCausalLM"],
                     rope_theta=1000000.0, head_dim=32, num_experts=4, num_experts_per_tok=2,
                     moe_intermediate_size=48, norm_topk_prob=True, decoder_sparse_step=1,
                     mlp_only_layers=[], tie_word_embeddings=False),
    # Gemma 3 text: sliding window on layer 0, global on layer 1, soft-capping off (as Gemma 3).
    "gemma3": dict(model_type="gemma3_text", architectures=["Gemma3ForCausalLM"], head_dim=16,
                   rope_theta=1000000.0, rope_local_base_freq=10000.0, sliding_window=4,
                   layer_types=["sliding_attention", "full_attention"],
                   query_pre_attn_scalar=16, hidden_activation="gelu_pytorch_tanh",
                   tie_word_embeddings=True),
    # Phi-3: fused qkv and gate_up projections.
    "phi3": dict(model_type="phi3", architectures=["Phi3ForCausalLM"], rope_theta=10000.0,
                 tie_word_embeddings=False, pad_token_id=0),
}


def make(name, extra, outdir):
    cfg_dict = dict(COMMON)
    cfg_dict.update(extra)
    model_type = cfg_dict.pop("model_type")
    cfg = transformers.AutoConfig.for_model(model_type, **cfg_dict)
    torch.manual_seed(1234)
    model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.float32)
    model.eval()
    # Norm weights start at 1 (or 0 for gemma's 1+w): randomise them too so a
    # wrong norm shows in the logits.
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    # float64 reference; the fused MoE expert kernels take no float64, so MoE
    # models are evaluated in float32 (on the CPU, deterministic).
    ref_dtype = torch.float32 if "experts" in str(extra) else torch.float64
    ref = model.to(ref_dtype)
    ids = torch.tensor([TOKENS])
    with torch.no_grad():
        logits = ref(ids).logits[0]
    with open(os.path.join(d, "tokens.txt"), "w") as f:
        f.write(" ".join(str(t) for t in TOKENS) + "\n")
    with open(os.path.join(d, "logits.txt"), "w") as f:
        for row in logits.tolist():
            f.write(" ".join("%.9e" % v for v in row) + "\n")
    seq = list(TOKENS)
    gen = []
    min_gap = float("inf")
    with torch.no_grad():
        for _ in range(N_GREEDY):
            lg = ref(torch.tensor([seq])).logits[0, -1]
            top = torch.topk(lg, 2)
            min_gap = min(min_gap, float(top.values[0] - top.values[1]))
            nxt = int(top.indices[0])
            gen.append(nxt)
            seq.append(nxt)
    with open(os.path.join(d, "greedy.txt"), "w") as f:
        f.write(" ".join(str(t) for t in gen) + "\n")
        f.write("gap %.6f\n" % min_gap)
    meta = dict(name=name, torch=torch.__version__, transformers=transformers.__version__,
                seed=1234, dtype_saved="float32", reference_dtype=str(ref_dtype).replace("torch.", ""),
                note="random-initialised (initializer_range 0.15, 1-D weights perturbed by N(0,0.1))")
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("%-9s params %7d  min greedy gap %.4f" % (name, sum(p.numel() for p in model.parameters()), min_gap))


def main():
    outdir = sys.argv[1]
    only = sys.argv[2:]
    for name, extra in MODELS.items():
        if only and name not in only:
            continue
        try:
            make(name, extra, outdir)
        except Exception as e:  # report and keep going: one failure should not lose the rest
            print("FAILED", name, repr(e))


if __name__ == "__main__":
    main()
