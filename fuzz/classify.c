/*
 * classify.c: every platform's answer classifier (nh_platform->classify)
 * on a fuzzed answer. Input: one byte picks the platform, two bytes the
 * HTTP status, one byte the target's options; the rest is the body (NUL
 * bytes included, as an answer may hold them).
 *
 * Checks: no memory error or undefined behaviour (the answer comes from
 * the network, so nothing in it may be trusted), success exactly when the
 * code is OK, success only on a 2xx status (SMTP aside: libcurl already saw
 * the 250), a known code, an error text on every failure.
 */
#include <stdio.h>

#include "fuzz_input.h"
#include "nh_internal.h"

static long status_of(unsigned v) {
  static const long common[] = { 200, 201, 202, 204, 301, 400, 401, 403, 404, 408, 413,
                                 429, 500, 502, 503, 504, 0,   100, 299, 300, 199, 999 };
  if (v < 0xC000) return common[v % (sizeof common / sizeof *common)];
  if (v < 0xF000) return (long)(v % 1000);
  return -(long)(v & 0xFFF); /* nonsense a broken stack could report */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = { data, size };
  nh_platform_id id = (nh_platform_id)(fz_u8(&in) % NH_PLATFORM_COUNT);
  long status = status_of(fz_u16(&in));
  unsigned opts = fz_u8(&in);

  nh_target t;
  memset(&t, 0, sizeof t);
  t.platform = id;
  t.url = "http://127.0.0.1/x";
  t.label = "fuzz";
  if (opts & 1) {
    t.options = cJSON_CreateObject();
    cJSON_AddBoolToObject(t.options, "wait", opts & 2);
    cJSON_AddStringToObject(t.options, "parse_mode", opts & 4 ? "MarkdownV2" : "HTML");
  }

  char *body = malloc(in.n + 1);
  memcpy(body, in.p, in.n);
  body[in.n] = '\0';
  nh_answer a = { status, body, in.n };
  nh_result r;
  memset(&r, 0, sizeof r);

  const nh_platform *p = nh_platform_get(id);
  p->classify(&t, &a, &r);

  FZ_CHECK(r.success == (r.code == NH_OK), "%s: success %d with code %s", p->name, r.success,
           nh_code_name(r.code));
  FZ_CHECK((unsigned)r.code < NH_CODE_COUNT, "%s: code %d", p->name, (int)r.code);
  if (id != NH_PLATFORM_EMAIL && r.success)
    FZ_CHECK(status >= 200 && status < 300, "%s: success on HTTP %ld", p->name, status);
  if (!r.success) FZ_CHECK(r.error && *r.error, "%s: failure without a text", p->name);
  if (r.success) FZ_CHECK(!r.error, "%s: success with a text", p->name);
  FZ_CHECK(r.retry_after == r.retry_after, "%s: retry_after is NaN", p->name);
  if (r.response) { /* a kept copy is a C string */
    volatile size_t kept = strlen(r.response);
    (void)kept;
  }

  free(r.error);
  free(r.response);
  free(body);
  cJSON_Delete(t.options);
  return 0;
}
