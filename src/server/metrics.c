/* The /metrics page: the server's counters and gauges in the Prometheus
 * text exposition format (version 0.0.4: "# HELP", "# TYPE", one sample
 * per line). */
#include "base/alloc-int.h"
#include "server/internal.h"

static void metric(tl__sb *sb, const char *name, const char *type, const char *help, double v)
{
  tl__sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

char *tl__metrics_text(const tl__metrics *m, const tl_server_stats *st, uint64_t http_requests,
                       uint64_t http_errors)
{
  tl__sb sb;
  tl__sb_init(&sb);
  metric(&sb, "tailor_http_requests_total", "counter", "HTTP requests answered.",
         (double)http_requests);
  metric(&sb, "tailor_http_errors_total", "counter", "HTTP requests answered with a 4xx or 5xx.",
         (double)http_errors);
  metric(&sb, "tailor_requests_total", "counter", "Generation requests accepted.",
         (double)m->requests);
  metric(&sb, "tailor_requests_finished_total", "counter", "Generation requests finished.",
         (double)m->completions);
  metric(&sb, "tailor_requests_failed_total", "counter",
         "Generation requests canceled or failed.", (double)m->errors);
  metric(&sb, "tailor_prompt_tokens_total", "counter", "Prompt tokens of finished requests.",
         (double)m->prompt_tokens);
  metric(&sb, "tailor_prompt_tokens_cached_total", "counter",
         "Prompt tokens whose KV came from the prefix cache.", (double)m->cached_tokens);
  metric(&sb, "tailor_completion_tokens_total", "counter", "Generated tokens.",
         (double)m->completion_tokens);
  metric(&sb, "tailor_engine_steps_total", "counter", "Engine steps (batched forward passes).",
         (double)m->steps);
  metric(&sb, "tailor_prefill_tokens_per_second", "gauge",
         "Tokens per second of engine steps that held prompt tokens.",
         m->prefill_s > 0 ? (double)m->prefill_tok / m->prefill_s : 0);
  metric(&sb, "tailor_decode_tokens_per_second", "gauge",
         "Tokens per second of engine steps that only decoded (all sequences together).",
         m->decode_s > 0 ? (double)m->decode_tok / m->decode_s : 0);
  metric(&sb, "tailor_queue_depth", "gauge", "Requests waiting for a slot.", st->queued);
  metric(&sb, "tailor_requests_running", "gauge", "Requests holding a slot.", st->running);
  metric(&sb, "tailor_kv_blocks_total", "gauge", "KV cache blocks.", st->kv_blocks_total);
  metric(&sb, "tailor_kv_blocks_used", "gauge", "KV cache blocks in use (cached prefixes too).",
         st->kv_blocks_total - st->kv_blocks_free);
  metric(&sb, "tailor_kv_blocks_cached", "gauge",
         "KV blocks held by finished sequences for prefix reuse.", st->kv_blocks_cached);
  metric(&sb, "tailor_kv_usage_ratio", "gauge", "Used KV blocks over all KV blocks.",
         st->kv_blocks_total
             ? (double)(st->kv_blocks_total - st->kv_blocks_free) / st->kv_blocks_total
             : 0);
  return tl__sb_take(&sb);
}
