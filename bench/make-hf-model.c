/* Writes a Hugging Face model directory (config.json + one model.safetensors)
 * with random weights in the shape of a known model, for conversion
 * benchmarks. Weights are streamed to the file, so a multi-gigabyte model
 * needs no more than a buffer of memory. Shapes from the models' config.json
 * (meta-llama/Llama-3.2-1B: 16 layers, hidden 2048, 32 heads / 8 KV heads of
 * 64, FFN 8192, vocabulary 128256, tied embeddings).
 *
 * Usage: make-hf-model OUT_DIR [--dtype bf16|f16|f32] [--layers N] [--seed S] */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct shape {
  uint32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
} shape;

static const shape llama_3_2_1b = {16, 2048, 32, 8, 64, 8192, 128256};

typedef struct tensor {
  char name[96];
  uint64_t rows, cols; /* row-major [rows, cols]; cols 0 for 1-D [rows] */
  float init;          /* norms: 1.0 (constant); matrices: 0 (random) */
} tensor;

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 32);
}

/* About N(0, 0.02^2): a sum of four uniforms (Irwin-Hall) rescaled. */
static float weight(void)
{
  float s = 0;
  for (int i = 0; i < 4; i++)
    s += (float)next() * (1.0f / 4294967296.0f);
  return (s - 2.0f) * 1.7320508f * 0.02f;
}

static void put(uint8_t *dst, float v, int esz)
{
  uint32_t b;
  memcpy(&b, &v, 4);
  if (esz == 4) {
    memcpy(dst, &b, 4);
  } else { /* bf16, round to nearest even (the values are finite) */
    uint16_t h = (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
    memcpy(dst, &h, 2);
  }
}

static void put_f16(uint8_t *dst, float v)
{
  /* values here are small normals: |v| < 1, no overflow; subnormals flushed */
  uint32_t b;
  memcpy(&b, &v, 4);
  uint32_t sign = (b >> 16) & 0x8000u;
  int32_t e = (int32_t)((b >> 23) & 0xFF) - 127 + 15;
  uint32_t m = b & 0x7FFFFFu;
  uint16_t h;
  if (e <= 0)
    h = (uint16_t)sign;
  else {
    uint32_t r = (m >> 13) + ((m >> 12) & 1u);
    h = (uint16_t)(sign | (((uint32_t)e << 10) + r));
  }
  memcpy(dst, &h, 2);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s OUT_DIR [--dtype bf16|f16|f32] [--layers N] [--seed S]\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1], *dtype = "bf16";
  shape s = llama_3_2_1b;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--dtype"))
      dtype = argv[i + 1];
    else if (!strcmp(argv[i], "--layers"))
      s.n_layer = (uint32_t)strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--seed"))
      rng = strtoull(argv[i + 1], NULL, 10) | 1u;
    else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  int esz = !strcmp(dtype, "f32") ? 4 : 2;
  bool f16 = !strcmp(dtype, "f16");
  const char *st_dtype = esz == 4 ? "F32" : f16 ? "F16" : "BF16";
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    perror(dir);
    return 1;
  }
  size_t cap = 16 + 9 * (size_t)s.n_layer, n = 0;
  tensor *t = calloc(cap, sizeof *t);
  uint64_t q = (uint64_t)s.n_head * s.head_dim, kv = (uint64_t)s.n_head_kv * s.head_dim;
  snprintf(t[n].name, 96, "model.embed_tokens.weight");
  t[n].rows = s.n_vocab, t[n++].cols = s.n_embd;
  for (uint32_t l = 0; l < s.n_layer; l++) {
    struct {
      const char *n;
      uint64_t r, c;
    } L[] = {{"input_layernorm.weight", s.n_embd, 0},
             {"self_attn.q_proj.weight", q, s.n_embd},
             {"self_attn.k_proj.weight", kv, s.n_embd},
             {"self_attn.v_proj.weight", kv, s.n_embd},
             {"self_attn.o_proj.weight", s.n_embd, q},
             {"post_attention_layernorm.weight", s.n_embd, 0},
             {"mlp.gate_proj.weight", s.n_ff, s.n_embd},
             {"mlp.up_proj.weight", s.n_ff, s.n_embd},
             {"mlp.down_proj.weight", s.n_embd, s.n_ff}};
    for (size_t k = 0; k < sizeof L / sizeof L[0]; k++) {
      snprintf(t[n].name, 96, "model.layers.%u.%s", l, L[k].n);
      t[n].rows = L[k].r;
      t[n].cols = L[k].c;
      t[n++].init = L[k].c ? 0.0f : 1.0f;
    }
  }
  snprintf(t[n].name, 96, "model.norm.weight");
  t[n].rows = s.n_embd, t[n].init = 1.0f, n++;

  /* header */
  size_t hcap = 256 + n * 200;
  char *h = malloc(hcap);
  size_t hl = (size_t)snprintf(h, hcap, "{\"__metadata__\":{\"format\":\"pt\"}");
  uint64_t off = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t bytes = t[i].rows * (t[i].cols ? t[i].cols : 1) * (uint64_t)esz;
    if (t[i].cols)
      hl += (size_t)snprintf(
          h + hl, hcap - hl,
          ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu,%llu],\"data_offsets\":[%llu,%llu]}",
          t[i].name, st_dtype, (unsigned long long)t[i].rows, (unsigned long long)t[i].cols,
          (unsigned long long)off, (unsigned long long)(off + bytes));
    else
      hl += (size_t)snprintf(
          h + hl, hcap - hl,
          ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu],\"data_offsets\":[%llu,%llu]}", t[i].name,
          st_dtype, (unsigned long long)t[i].rows, (unsigned long long)off,
          (unsigned long long)(off + bytes));
    off += bytes;
  }
  hl += (size_t)snprintf(h + hl, hcap - hl, "}");
  while (hl % 8)
    h[hl++] = ' '; /* the data starts 8-aligned, as the safetensors library writes it */
  char path[4096];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    return 1;
  }
  uint8_t len8[8];
  for (int i = 0; i < 8; i++)
    len8[i] = (uint8_t)((uint64_t)hl >> (8 * i));
  fwrite(len8, 1, 8, f);
  fwrite(h, 1, hl, f);
  enum { CHUNK = 1 << 20 };
  uint8_t *buf = malloc((size_t)CHUNK * 4);
  for (size_t i = 0; i < n; i++) {
    uint64_t left = t[i].rows * (t[i].cols ? t[i].cols : 1);
    while (left > 0) {
      size_t k = left < CHUNK ? (size_t)left : CHUNK;
      for (size_t j = 0; j < k; j++) {
        float v = t[i].init != 0 ? t[i].init : weight();
        if (f16)
          put_f16(buf + j * 2, v);
        else
          put(buf + j * (size_t)esz, v, esz);
      }
      if (fwrite(buf, (size_t)esz, k, f) != k) {
        perror(path);
        return 1;
      }
      left -= k;
    }
  }
  if (fclose(f) != 0) {
    perror(path);
    return 1;
  }
  snprintf(path, sizeof path, "%s/config.json", dir);
  f = fopen(path, "w");
  if (!f) {
    perror(path);
    return 1;
  }
  fprintf(
      f,
      "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n"
      "  \"hidden_size\": %u,\n  \"intermediate_size\": %u,\n  \"num_hidden_layers\": %u,\n"
      "  \"num_attention_heads\": %u,\n  \"num_key_value_heads\": %u,\n  \"head_dim\": %u,\n"
      "  \"vocab_size\": %u,\n  \"max_position_embeddings\": 131072,\n  \"rms_norm_eps\": 1e-05,\n"
      "  \"rope_theta\": 500000.0,\n  \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": "
      "4.0, "
      "\"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, \"rope_type\": "
      "\"llama3\"},\n"
      "  \"tie_word_embeddings\": true,\n  \"bos_token_id\": 128000,\n  \"eos_token_id\": 128001,\n"
      "  \"torch_dtype\": \"%s\"\n}\n",
      s.n_embd, s.n_ff, s.n_layer, s.n_head, s.n_head_kv, s.head_dim, s.n_vocab,
      esz == 4 ? "float32"
      : f16    ? "float16"
               : "bfloat16");
  fclose(f);
  printf("%s: %zu tensors, %llu bytes of %s weights\n", dir, n, (unsigned long long)off, st_dtype);
  free(t);
  free(h);
  free(buf);
  return 0;
}
