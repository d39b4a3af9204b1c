/*
 * plan.c: the overflow planner nh_target_plan (truncate, split, error) on
 * fuzzed bodies, titles, formats and limits. The planner is compiled in
 * here with nh_platform_get() renamed, so that a platform's limit can be
 * fuzzed (small limits make splits happen at every size) while its render
 * and check stay the real ones; one input in four keeps the real limit.
 *
 * Checks: a split's parts put back together are the body, none is empty
 * and none starts inside a UTF-8 sequence (a cut is never between a lead
 * byte and its continuation bytes; a stray continuation byte after ASCII,
 * in a body that is not UTF-8, may start a part); a cut body is a prefix of the body that
 * ends on a character boundary, plus U+2026; every part, rendered as the
 * platform would send it, is within the limit; a message left whole fits.
 */
#include <stdio.h>

#include "fuzz_input.h"

#define nh_platform_get fuzz_platform_get
#include "../csrc/nh_text.c"
#undef nh_platform_get

const nh_platform *nh_platform_get(nh_platform_id id);

static size_t fuzzed_limit;
static nh_platform wrapped;

static size_t limit_of(const nh_message *m, const nh_target *t) {
  (void)m;
  (void)t;
  return fuzzed_limit;
}

static int use_real_limit;

const nh_platform *fuzz_platform_get(nh_platform_id id) {
  const nh_platform *real = nh_platform_get(id);
  if (use_real_limit || !real->render) return real;
  wrapped = *real;
  wrapped.limit = limit_of;
  return &wrapped;
}

static int cont(unsigned char c) { return (c & 0xC0) == 0x80; }

static size_t units_of(const nh_platform *p, const nh_message *m, const nh_target *t,
                       const char *body) {
  nh_message part = *m;
  part.body = (char *)body;
  int in_chars = 0;
  char *text = p->render(&part, t, &in_chars);
  FZ_CHECK(text, "%s: render gave NULL", p->name);
  size_t n = nh_text_units(text, in_chars);
  free(text);
  return n;
}

static const char *const formats[] = { "text", "markdown", "html", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = { data, size };
  /* every platform (csrc/nh_platforms.h order); one without a limit plans to
   * its check's verdict */
  nh_platform_id id = (nh_platform_id)(fz_u8(&in) % NH_PLATFORM_COUNT);
  unsigned flags = fz_u8(&in);
  unsigned limit = fz_u16(&in);
  use_real_limit = (flags & 3) == 0;
  fuzzed_limit = limit % 600;

  nh_message m;
  nh_target t;
  memset(&m, 0, sizeof m);
  memset(&t, 0, sizeof t);
  m.id = strdup("0123456789abcdef-1");
  m.format = formats[(flags >> 2) % 4] ? strdup(formats[(flags >> 2) % 4]) : NULL;
  t.platform = id;
  t.url = "https://example.invalid/hook/tok";
  t.overflow = (int)((flags >> 4) % 3);
  if (flags & 64) {
    t.options = cJSON_CreateObject();
    cJSON_AddStringToObject(t.options, "parse_mode", flags & 128 ? "MarkdownV2" : "HTML");
  }
  if (flags & 128) m.title = fz_str(&in, 120);
  m.body = fz_rest(&in);
  m.targets = &t;
  m.n_targets = 1;

  char err[256] = "";
  nh_code rc = nh_target_plan(&m, &t, err, sizeof err);
  const nh_platform *p = fuzz_platform_get(id);
  size_t lim = p->limit ? p->limit(&m, &t) : (size_t)-1;
  size_t blen = strlen(m.body);

  if (rc != NH_OK) {
    FZ_CHECK(err[0], "%s: plan failed without a reason", p->name);
  } else if (t.n_parts == 0) {
    if (p->render)
      FZ_CHECK(units_of(p, &m, &t, m.body) <= lim, "%s: left whole but over the limit %zu", p->name,
               lim);
  } else if (t.overflow == NH_OVERFLOW_SPLIT) {
    size_t off = 0;
    for (size_t i = 0; i < t.n_parts; i++) {
      size_t n = strlen(t.parts[i]);
      FZ_CHECK(n > 0, "%s: part %zu is empty", p->name, i);
      FZ_CHECK(off + n <= blen && memcmp(m.body + off, t.parts[i], n) == 0,
               "%s: part %zu is not the next piece of the body", p->name, i);
      if (i > 0) /* a stray continuation byte may start one */
        FZ_CHECK(!cont((unsigned char)t.parts[i][0]) || (unsigned char)m.body[off - 1] < 0x80,
                 "%s: part %zu of %zu starts inside a UTF-8 sequence (byte 0x%02x at offset %zu)",
                 p->name, i, t.n_parts, (unsigned char)t.parts[i][0], off);
      size_t u = units_of(p, &m, &t, t.parts[i]);
      FZ_CHECK(u <= lim, "%s: part %zu of %zu (%zu bytes) renders to %zu units, over the limit %zu",
               p->name, i, t.n_parts, n, u, lim);
      off += n;
    }
    FZ_CHECK(off == blen, "%s: the parts hold %zu of %zu bytes", p->name, off, blen);
  } else {
    FZ_CHECK(t.overflow == NH_OVERFLOW_TRUNCATE && t.n_parts == 1, "%s: %zu parts for overflow %d",
             p->name, t.n_parts, t.overflow);
    size_t n = strlen(t.parts[0]);
    FZ_CHECK(n >= 3 && strcmp(t.parts[0] + n - 3, ELLIPSIS) == 0, "%s: a cut body without U+2026",
             p->name);
    size_t keep = n - 3;
    FZ_CHECK(keep > 0 && keep <= blen && memcmp(t.parts[0], m.body, keep) == 0,
             "%s: the cut body is not a prefix of the body", p->name);
    FZ_CHECK(keep == blen || !cont((unsigned char)m.body[keep]) ||
               (unsigned char)m.body[keep - 1] < 0x80,
             "%s: the body is cut inside a UTF-8 sequence", p->name);
    size_t u = units_of(p, &m, &t, t.parts[0]);
    FZ_CHECK(u <= lim, "%s: the cut body renders to %zu units, over the limit %zu", p->name, u,
             lim);
  }

  for (size_t i = 0; i < t.n_parts; i++) free(t.parts[i]);
  free(t.parts);
  cJSON_Delete(t.options);
  free(m.id);
  free(m.title);
  free(m.body);
  free(m.format);
  return 0;
}
