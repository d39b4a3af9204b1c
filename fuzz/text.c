/*
 * text.c: the text renderers on fuzzed bytes: HTML as plain text
 * (nh_html_text) and for Telegram's HTML mode (nh_buf_html_telegram),
 * markdown through cmark in every platform's rules (nh_buf_markdown), as
 * Feishu post paragraphs and as e-mail HTML. Input: one byte picks the
 * renderer, the rest is the text (to its first NUL: the core's strings are
 * C strings).
 *
 * Checks, beyond ASan/UBSan: the output is at most 64 times the input (a
 * line inside 32 quotes carries 32 marks; cmark writes 27 bytes per ">");
 * the plain text has no blank line twice in a row (outside <pre>), no line
 * break at its start and no space or line break at its end; Telegram HTML
 * (from markdown or from HTML) uses only tags Telegram knows, properly
 * nested, no blockquote or link inside another, and only the entities it
 * knows; Feishu paragraphs are arrays of tagged elements with text; e-mail
 * HTML has no <script> and no javascript: link.
 */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include "fuzz_input.h"
#include "nh_internal.h"

/* HTML for Telegram after Feishu (where it was first: the seeds keep their
 * modes); the styles added after Feishu follow it. */
#define HTML_TELEGRAM (2 + NH_MD_FEISHU + 1)
#define MODES (HTML_TELEGRAM + NH_MD_STYLES - NH_MD_FEISHU)

static void check_bounded(const char *out, size_t n) {
  FZ_CHECK(out, "renderer gave NULL");
  FZ_CHECK(strlen(out) <= 64 * n + 256, "output of %zu bytes for %zu bytes of input", strlen(out),
           n);
}

/* <pre> keeps its own blank lines and spaces. */
static void check_plain(const char *out, int has_pre) {
  size_t len = strlen(out);
  FZ_CHECK(has_pre || !strstr(out, "\n\n\n"), "two blank lines in a row");
  FZ_CHECK(!len || out[0] != '\n', "leading line break");
  FZ_CHECK(!len || (out[len - 1] != ' ' && out[len - 1] != '\n'), "trailing space or line break");
}

/* Telegram's HTML parse mode: known tags, nested; &lt; &gt; &amp; &quot; only. */
static void check_telegram(const char *s) {
  static const char *const tags[] = { "b",   "strong", "i",          "em",         "u",
                                      "ins", "s",      "strike",     "del",        "code",
                                      "pre", "a",      "blockquote", "tg-spoiler", NULL };
  const char *stack[64];
  int depth = 0;
  for (; *s; s++) {
    if (*s == '&') {
      FZ_CHECK(!strncmp(s, "&lt;", 4) || !strncmp(s, "&gt;", 4) || !strncmp(s, "&amp;", 5) ||
                 !strncmp(s, "&quot;", 6),
               "bare & in Telegram HTML: %.20s", s);
    } else if (*s == '<') {
      int closing = s[1] == '/';
      const char *name = s + 1 + closing;
      size_t n = strcspn(name, " >");
      const char *const *t = tags;
      while (*t && (strlen(*t) != n || strncmp(*t, name, n))) t++;
      FZ_CHECK(*t, "unknown tag in Telegram HTML: %.20s", s);
      if (closing) {
        FZ_CHECK(depth > 0 && stack[depth - 1] == *t, "unbalanced </%s>", *t);
        depth--;
      } else {
        FZ_CHECK(depth < 64, "tags nested too deep");
        for (int k = 0; k < depth; k++)
          FZ_CHECK((strcmp(*t, "blockquote") && strcmp(*t, "a")) || stack[k] != *t, "nested <%s>",
                   *t);
        stack[depth++] = *t;
      }
      s = strchr(s, '>');
      FZ_CHECK(s, "tag without '>'");
    }
  }
  FZ_CHECK(depth == 0, "tag left open: <%s>", stack[depth - 1]);
}

static void check_feishu(cJSON *paras) {
  cJSON *para, *el;
  FZ_CHECK(cJSON_IsArray(paras), "Feishu paragraphs are not an array");
  cJSON_ArrayForEach(para, paras) {
    FZ_CHECK(cJSON_IsArray(para) && cJSON_GetArraySize(para) > 0, "empty Feishu paragraph");
    cJSON_ArrayForEach(el, para) {
      FZ_CHECK(cJSON_IsString(cJSON_GetObjectItem(el, "tag")), "Feishu element without tag");
      FZ_CHECK(cJSON_IsString(cJSON_GetObjectItem(el, "text")), "Feishu element without text");
    }
  }
}

static void check_email(const char *html) {
  for (const char *p = html; *p; p++) {
    FZ_CHECK(strncasecmp(p, "<script", 7) != 0, "raw <script> in e-mail HTML");
    FZ_CHECK(strncasecmp(p, "href=\"javascript:", 17) != 0, "javascript: link in e-mail HTML");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = { data, size };
  unsigned mode = fz_u8(&in) % MODES;
  char *text = strndup((const char *)in.p, in.n);
  size_t n = strlen(text);
  nh_buf b = { 0 };
  if (mode == 0) {
    char *out = nh_html_text(text);
    check_bounded(out, n);
    check_plain(out, strcasestr(text, "<pre") != NULL);
    free(out);
  } else if (mode == 1) {
    char *out = nh_markdown_html(text);
    check_bounded(out, n);
    check_email(out);
    free(out);
  } else if (mode == HTML_TELEGRAM) {
    nh_buf_html_telegram(&b, text);
    check_bounded(b.data ? b.data : "", n);
    if (b.data) check_telegram(b.data);
    free(b.data);
  } else if (mode - 2 == NH_MD_FEISHU) {
    cJSON *paras = nh_markdown_feishu(text);
    check_feishu(paras);
    cJSON_Delete(paras);
  } else {
    nh_md_style style = mode > HTML_TELEGRAM ? (nh_md_style)(NH_MD_FEISHU + mode - HTML_TELEGRAM)
                                             : (nh_md_style)(mode - 2);
    nh_buf_markdown(&b, text, style);
    check_bounded(b.data ? b.data : "", n);
    if (style == NH_MD_TELEGRAM_HTML && b.data) check_telegram(b.data);
    free(b.data);
  }
  free(text);
  return 0;
}
