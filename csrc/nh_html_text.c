/*
 * nh_html_text.c: HTML as plain text, for the text/plain alternative of an
 * html e-mail and for the platforms that cannot show HTML. Tags go; block
 * elements and <br> become line breaks (at most one blank line in a row),
 * list items "- " or "1. " lines; entities are decoded (the common named
 * ones and every numeric one); script, style and head go with what they
 * hold; a link keeps its address as "text (url)"; whitespace collapses
 * except inside <pre>. It reads only inside the string: a tag, comment or
 * entity cut off by the end is dropped or left as text, never read past.
 *
 * For Telegram's HTML parse mode the same walk keeps the tags Telegram
 * knows (b, i, u, s, code, pre, a href, blockquote, ...), balanced and
 * never nested where Telegram refuses it, escapes the text again, and keeps
 * line breaks (Telegram shows them); every other tag goes as above.
 *
 * Last, a message's text as those platforms send it: its body (an html one
 * as plain text) and title.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nh_internal.h"

#define MAX_LISTS 16
#define NAME_MAX_LEN 16
#define MAX_OPEN 32

typedef struct html_text {
  nh_buf *b;
  size_t start;         /* where this text begins in b */
  int space;            /* a collapsed space waits for the next text */
  int pre;              /* inside <pre> */
  int marker;           /* a list marker is the last thing written */
  int lists[MAX_LISTS]; /* per open list: 0 bullets, else the next number */
  int depth, skipped;
  char *href;                 /* the open link's address */
  size_t link_at;             /* where its text begins */
  int telegram;               /* keep Telegram's tags, escape the text */
  const char *open[MAX_OPEN]; /* Telegram: the tags written and not closed yet */
  int n_open, literal;        /* literal: inside code or pre, where no tag nests */
} html_text;

static const char *const telegram_tags[] = { "b",   "strong",     "i",      "em",         "u",
                                             "ins", "s",          "strike", "del",        "code",
                                             "pre", "blockquote", "a",      "tg-spoiler", NULL };

/* ---- entities ----------------------------------------------------------- */

static const struct {
  const char *name;
  unsigned cp;
} named[] = {
  { "amp", '&' },      { "lt", '<' },        { "gt", '>' },        { "quot", '"' },
  { "apos", '\'' },    { "AMP", '&' },       { "LT", '<' },        { "GT", '>' },
  { "QUOT", '"' },     { "nbsp", ' ' },      { "ensp", ' ' },      { "emsp", ' ' },
  { "thinsp", ' ' },   { "trade", 0x2122 },  { "hellip", 0x2026 }, { "mdash", 0x2014 },
  { "ndash", 0x2013 }, { "lsquo", 0x2018 },  { "rsquo", 0x2019 },  { "ldquo", 0x201C },
  { "rdquo", 0x201D }, { "bull", 0x2022 },   { "euro", 0x20AC },   { "larr", 0x2190 },
  { "rarr", 0x2192 },  { "uarr", 0x2191 },   { "darr", 0x2193 },   { "zwj", 0x200D },
  { "zwnj", 0x200C },  { "dagger", 0x2020 },
};

/* HTML 4's names of U+00A1 to U+00FF, in order. */
static const char *const latin1[] = {
  "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",    "copy",
  "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn", "sup2",
  "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",   "raquo",
  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde", "Auml",
  "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave", "Iacute",
  "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",
  "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",  "szlig",
  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil", "egrave",
  "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",    "ntilde",
  "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave", "uacute",
  "ucirc",  "uuml",   "yacute", "thorn",  "yuml",
};

static int name_is(const char *name, const char *s, size_t n) {
  return strlen(name) == n && strncmp(name, s, n) == 0;
}

/* The code point of a named entity (s[0..n), without & and ;), or 0. */
static unsigned named_cp(const char *s, size_t n) {
  for (size_t k = 0; k < sizeof named / sizeof *named; k++)
    if (name_is(named[k].name, s, n)) return named[k].cp;
  for (size_t k = 0; k < sizeof latin1 / sizeof *latin1; k++)
    if (name_is(latin1[k], s, n)) return 0xA1 + (unsigned)k;
  return 0;
}

static size_t utf8_put(unsigned long cp, char *out) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
      (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0x7F)
    cp = 0xFFFD; /* what HTML makes of them too */
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* &#123; &#x1F600; (the ';' may be missing, as browsers allow). */
static size_t numeric(const char *s, size_t n, char *out, size_t *outlen) {
  size_t i = 2;
  int hex = i < n && (s[i] == 'x' || s[i] == 'X');
  unsigned long cp = 0;
  i += (size_t)hex;
  size_t digits = i;
  for (; i < n && (hex ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])); i++) {
    int d = isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower((unsigned char)s[i]) - 'a' + 10);
    if (cp <= 0x10FFFF)
      cp = cp * (hex ? 16 : 10) + (unsigned long)d; /* stops growing past the range */
  }
  if (i == digits) return 0;
  *outlen = utf8_put(cp, out);
  return i < n && s[i] == ';' ? i + 1 : i;
}

/* An entity at s (s[0] == '&', n bytes left): the bytes it takes, its text
 * in out (at most 4 bytes, *outlen), or 0 when it is no entity. */
static size_t entity(const char *s, size_t n, char *out, size_t *outlen) {
  if (n > 2 && s[1] == '#') return numeric(s, n, out, outlen);
  size_t i = 1;
  while (i < n && i <= NAME_MAX_LEN && isalnum((unsigned char)s[i])) i++;
  if (i == 1 || i >= n || s[i] != ';') return 0;
  unsigned cp = named_cp(s + 1, i - 1);
  if (!cp) return 0;
  *outlen = utf8_put(cp, out);
  return i + 1;
}

/* s[0..n) with its entities decoded, as a new string. */
static char *decode(const char *s, size_t n) {
  nh_buf b = { 0 };
  for (size_t i = 0; i < n;) {
    char out[4];
    size_t len = 0, used = s[i] == '&' ? entity(s + i, n - i, out, &len) : 0;
    if (used) nh_buf_add(&b, out, len), i += used;
    else nh_buf_add(&b, s + i, 1), i++;
  }
  return nh_buf_take(&b);
}

/* ---- output ------------------------------------------------------------- */

/* At the start, after a line break or after a space ("- " too). */
static int after_space(const html_text *h) {
  return h->b->len == h->start || strchr(" \n", h->b->data[h->b->len - 1]);
}

static void put(html_text *h, const char *s, size_t n) {
  if (!n) return;
  if (h->space && !after_space(h)) nh_buf_add(h->b, " ", 1);
  h->space = 0;
  h->marker = 0;
  if (!h->telegram) {
    nh_buf_add(h->b, s, n);
    return;
  }
  for (size_t i = 0; i < n; i++) { /* decoded text is text again: escaped */
    const char *with = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : NULL;
    if (with) nh_buf_puts(h->b, with);
    else nh_buf_add(h->b, s + i, 1);
  }
}

static size_t trailing_newlines(const html_text *h) {
  size_t k = 0;
  while (h->b->len - k > h->start && h->b->data[h->b->len - k - 1] == '\n') k++;
  return k;
}

/* At least `lines` line ends here (never at the very start). */
static void breaks(html_text *h, size_t lines) {
  h->space = 0;
  if (h->b->len == h->start || h->marker) return; /* <li><p>: the text goes after "- " */
  for (size_t k = trailing_newlines(h); k < lines; k++) nh_buf_add(h->b, "\n", 1);
}

/* Collapsed into one space, except inside <pre> (less its CRs and any
 * line break before the first text). */
static void whitespace(html_text *h, char c) {
  if (h->telegram && c == '\n' && !h->pre) { /* Telegram shows line breaks */
    h->space = 0;
    if (h->b->len > h->start && trailing_newlines(h) < 2) nh_buf_add(h->b, "\n", 1);
  } else if (!h->pre) h->space = 1;
  else if (c != '\r' && (c != '\n' || h->b->len > h->start)) nh_buf_add(h->b, &c, 1);
}

/* ---- tags --------------------------------------------------------------- */

static int is_name(const char *name, const char *const *list) {
  for (; *list; list++)
    if (strcmp(name, *list) == 0) return 1;
  return 0;
}

/* The value of attribute `want` in the tag's text s[0..n), decoded; NULL if absent. */
static char *attribute(const char *s, size_t n, const char *want) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (isspace((unsigned char)s[i]) || s[i] == '/')) i++;
    size_t name = i;
    while (i < n && !isspace((unsigned char)s[i]) && s[i] != '=' && s[i] != '/') i++;
    size_t name_len = i - name;
    while (i < n && isspace((unsigned char)s[i])) i++;
    if (i >= n || s[i] != '=') {
      if (name_len == 0) i++;
      continue;
    }
    for (i++; i < n && isspace((unsigned char)s[i]);) i++;
    size_t value = i, value_len;
    if (i < n && (s[i] == '"' || s[i] == '\'')) {
      const char *close = memchr(s + i + 1, s[i], n - i - 1);
      value = i + 1;
      value_len = close ? (size_t)(close - s) - value : n - value;
      i = value + value_len + 1;
    } else {
      while (i < n && !isspace((unsigned char)s[i])) i++;
      value_len = i - value;
    }
    if (name_len == strlen(want) && strncasecmp(s + name, want, name_len) == 0)
      return decode(s + value, value_len);
  }
  return NULL;
}

static void list_item(html_text *h) {
  h->marker = 0; /* an empty item before: still a line of its own */
  breaks(h, 1);
  for (int i = 1; i < h->depth; i++) nh_buf_puts(h->b, "  ");
  int *number = h->depth ? &h->lists[h->depth - 1] : NULL;
  if (number && *number) {
    char mark[24];
    snprintf(mark, sizeof mark, "%d. ", (*number)++);
    nh_buf_puts(h->b, mark);
  } else {
    nh_buf_puts(h->b, "- ");
  }
  h->marker = 1;
}

/* <ol start="3">: the first number, within 1..999999999 (HTML allows 0 and
 * negatives; a plain-text list reads better without them). */
static int list_start(const char *attrs, size_t n) {
  char *start = attribute(attrs, n, "start");
  long v = start ? strtol(start, NULL, 10) : 1;
  free(start);
  return v >= 1 && v <= 999999999 ? (int)v : 1;
}

static void list(html_text *h, int closing, int first) { /* first: 0 for bullets */
  if (closing) {
    if (h->skipped) h->skipped--;
    else if (h->depth) h->depth--;
    breaks(h, h->depth ? 1 : 2);
    return;
  }
  breaks(h, h->depth ? 1 : 2);
  if (h->depth == MAX_LISTS) h->skipped++;
  else h->lists[h->depth++] = first;
}

/* As browsers read a URL: without tabs and line breaks, spaces trimmed. */
static char *clean_url(char *url) {
  if (!url) return NULL;
  size_t k = 0;
  for (size_t i = 0; url[i]; i++)
    if (!strchr("\t\n\r", url[i]) && (k || url[i] != ' ')) url[k++] = url[i];
  while (k && url[k - 1] == ' ') k--;
  url[k] = '\0';
  return url;
}

static int unsafe_href(const char *href) {
  return !*href || *href == '#' || strncasecmp(href, "javascript:", 11) == 0 ||
         strncasecmp(href, "data:", 5) == 0 || strncasecmp(href, "vbscript:", 9) == 0;
}

/* </a>: " (url)" after the text, unless the text already is the address. */
static void link_end(html_text *h) {
  if (!h->href) return;
  const char *text = h->b->data ? h->b->data + h->link_at : "";
  size_t n = h->b->len - h->link_at;
  while (n && isspace((unsigned char)*text)) text++, n--;
  const char *bare = strncasecmp(h->href, "mailto:", 7) == 0 ? h->href + 7 : h->href;
  int same = (n == strlen(h->href) && strncmp(text, h->href, n) == 0) ||
             (n == strlen(bare) && strncmp(text, bare, n) == 0);
  if (!unsafe_href(h->href) && !same) {
    if (n) put(h, " (", 2);
    put(h, h->href, strlen(h->href));
    if (n) put(h, ")", 1);
  }
  free(h->href);
  h->href = NULL;
}

/* ---- Telegram's tags ----------------------------------------------------- */

static void tg_close_top(html_text *h) {
  const char *name = h->open[--h->n_open];
  nh_buf_puts(h->b, "</");
  nh_buf_puts(h->b, name);
  nh_buf_puts(h->b, ">");
  if (strcmp(name, "code") == 0 || strcmp(name, "pre") == 0) h->literal--;
  if (strcmp(name, "pre") == 0) h->pre = 0;
}

static int tg_is_open(const html_text *h, const char *name) {
  for (int k = 0; k < h->n_open; k++)
    if (strcmp(h->open[k], name) == 0) return 1;
  return 0;
}

/* <a href="..."> with a safe address, or nothing. */
static int tg_open_link(html_text *h, const char *attrs, size_t n) {
  char *href = clean_url(attribute(attrs, n, "href"));
  int ok = href && !unsafe_href(href);
  if (ok) {
    nh_buf_puts(h->b, "<a href=\"");
    nh_buf_escape(h->b, href, "&<>\"", (const char *const[]){ "&amp;", "&lt;", "&gt;", "&quot;" });
    nh_buf_puts(h->b, "\">");
  }
  free(href);
  return ok;
}

/* <code class="language-x"> directly inside <pre>, as Telegram takes it. */
static void tg_open_code(html_text *h, const char *attrs, size_t n) {
  char *cls =
    h->n_open && strcmp(h->open[h->n_open - 1], "pre") == 0 ? attribute(attrs, n, "class") : NULL;
  size_t len = cls && strncmp(cls, "language-", 9) == 0
                 ? strspn(cls + 9, "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-#._")
                 : 0;
  nh_buf_puts(h->b, "<code");
  if (len)
    nh_buf_puts(h->b, " class=\"language-"), nh_buf_add(h->b, cls + 9, len),
      nh_buf_puts(h->b, "\"");
  nh_buf_puts(h->b, ">");
  free(cls);
}

/* A tag Telegram knows: written, or dropped where it cannot be (a close
 * with nothing open, a tag inside code, a blockquote or a link inside
 * another). */
static void tg_element(html_text *h, const char *name, int closing, const char *attrs, size_t n) {
  if (closing) { /* closes what was opened inside it too */
    if (!tg_is_open(h, name)) return;
    const char *top;
    do {
      top = h->open[h->n_open - 1];
      tg_close_top(h);
    } while (strcmp(top, name) != 0);
    return;
  }
  int code_in_pre =
    strcmp(name, "code") == 0 && h->n_open && strcmp(h->open[h->n_open - 1], "pre") == 0;
  if ((h->literal && !code_in_pre) || h->n_open == MAX_OPEN ||
      ((strcmp(name, "blockquote") == 0 || strcmp(name, "a") == 0) && tg_is_open(h, name)))
    return;
  if (h->space && !after_space(h)) nh_buf_add(h->b, " ", 1);
  h->space = 0;
  if (strcmp(name, "a") == 0 && !tg_open_link(h, attrs, n)) return;
  if (strcmp(name, "code") == 0) tg_open_code(h, attrs, n);
  else if (strcmp(name, "a") != 0)
    nh_buf_puts(h->b, "<"), nh_buf_puts(h->b, name), nh_buf_puts(h->b, ">");
  h->open[h->n_open++] = name;
  if (strcmp(name, "code") == 0 || strcmp(name, "pre") == 0) h->literal++;
  if (strcmp(name, "pre") == 0) h->pre = 1;
}

/* ---- tags --------------------------------------------------------------- */

static void element(html_text *h, const char *name, int closing, const char *attrs, size_t n) {
  if (h->telegram) {
    const char *const *t = telegram_tags; /* the list's own string: name is on the stack */
    while (*t && strcmp(*t, name) != 0) t++;
    if (*t) {
      tg_element(h, *t, closing, attrs, n);
      return;
    }
  }
  static const char *const paragraphs[] = { "p",  "h1", "h2",     "h3",         "h4",
                                            "h5", "h6", "table",  "blockquote", "pre",
                                            "hr", "dl", "figure", NULL };
  static const char *const lines[] = { "div",    "tr",      "section", "article", "header",
                                       "footer", "nav",     "aside",   "main",    "dt",
                                       "dd",     "caption", "address", "form",    "fieldset",
                                       "center", NULL };
  if (strcmp(name, "br") == 0) {
    h->space = 0;
    if (h->b->len > h->start && trailing_newlines(h) < 2) nh_buf_add(h->b, "\n", 1);
  } else if (strcmp(name, "li") == 0) {
    if (!closing) list_item(h);
  } else if (strcmp(name, "ul") == 0 || strcmp(name, "ol") == 0) {
    list(h, closing, name[0] == 'o' ? list_start(attrs, n) : 0);
  } else if (is_name(name, paragraphs)) {
    breaks(h, 2);
    if (strcmp(name, "pre") == 0) h->pre = !closing;
  } else if (is_name(name, lines)) {
    breaks(h, 1);
  } else if (strcmp(name, "td") == 0 || strcmp(name, "th") == 0) {
    if (!closing) h->space = 1;
  } else if (strcmp(name, "a") == 0) {
    link_end(h); /* links do not nest: a new one ends the last */
    if (!closing) {
      h->href = clean_url(attribute(attrs, n, "href"));
      if (h->space && !after_space(h)) nh_buf_add(h->b, " ", 1);
      h->space = 0; /* the text starts here, not its space */
      h->link_at = h->b->len;
    }
  } else if (strcmp(name, "img") == 0 && !closing) {
    char *alt = attribute(attrs, n, "alt");
    if (alt) put(h, alt, strlen(alt));
    free(alt);
  }
}

/* Past the end of what `name` holds (script, style, head): after its
 * closing tag, or the end of the text. */
static size_t skip_contents(const char *s, size_t n, size_t i, const char *name) {
  size_t len = strlen(name);
  for (; i + 2 + len <= n; i++) {
    if (s[i] == '<' && s[i + 1] == '/' && strncasecmp(s + i + 2, name, len) == 0) {
      const char *gt = memchr(s + i, '>', n - i);
      return gt ? (size_t)(gt - s) + 1 : n;
    }
  }
  return n;
}

/* The end of the tag that starts at s[i] == '<' (past its '>'), quoted
 * attribute values taken whole; 0 when the text ends first. */
static size_t tag_end(const char *s, size_t n, size_t i) {
  char quote = 0;
  for (i++; i < n; i++) {
    if (quote) {
      if (s[i] == quote) quote = 0;
    } else if (s[i] == '"' || s[i] == '\'') {
      quote = s[i];
    } else if (s[i] == '>') {
      return i + 1;
    }
  }
  return 0;
}

/* A tag, comment or declaration at s[i] == '<': handled, and where the
 * text goes on; i itself when it is a plain '<'. */
static size_t tag(html_text *h, const char *s, size_t n, size_t i) {
  static const char *const hidden[] = { "script", "style", "head", "template", "title", NULL };
  if (i + 3 < n && strncmp(s + i + 1, "!--", 3) == 0) {
    const char *end = i + 4 < n ? strstr(s + i + 4, "-->") : NULL;
    return end ? (size_t)(end - s) + 3 : n;
  }
  int closing = i + 1 < n && s[i + 1] == '/';
  size_t at = i + 1 + (size_t)closing;
  if (at < n && (s[at] == '!' || s[at] == '?')) {
    size_t end = tag_end(s, n, i);
    return end ? end : n;
  }
  if (at >= n || !isalpha((unsigned char)s[at])) return i; /* "a < b" */
  size_t end = tag_end(s, n, i); /* each '<' scans once: found, or the rest goes */
  char name[NAME_MAX_LEN + 1];
  size_t len = 0, j = at;
  for (; j < n && (isalnum((unsigned char)s[j]) || s[j] == '-'); j++)
    if (len < NAME_MAX_LEN) name[len++] = (char)tolower((unsigned char)s[j]);
  name[len] = '\0';
  if (!end) return n; /* cut off by the end: dropped */
  if (!closing && is_name(name, hidden)) return skip_contents(s, n, end, name);
  element(h, name, closing, s + j, end - 1 - j);
  return end;
}

/* ---- entry points ------------------------------------------------------- */

static int convert(nh_buf *b, const char *html, int telegram) {
  html_text h = { .b = b, .start = b->len, .telegram = telegram };
  size_t n = html ? strlen(html) : 0;
  for (size_t i = 0; i < n;) {
    char out[4];
    size_t len = 0, next;
    if (html[i] == '<' && (next = tag(&h, html, n, i)) != i) {
      i = next;
    } else if (html[i] == '&' && (next = entity(html + i, n - i, out, &len)) != 0) {
      if (len == 1 && strchr("\t\n\r", out[0])) whitespace(&h, out[0]); /* &nbsp; stays */
      else put(&h, out, len);
      i += next;
    } else if (strchr(" \t\n\r\f", html[i])) {
      whitespace(&h, html[i++]);
    } else {
      put(&h, html + i++, 1);
    }
  }
  link_end(&h);
  while (b->len > h.start && strchr(" \n", b->data[b->len - 1])) b->data[--b->len] = '\0';
  while (h.n_open) tg_close_top(&h);
  return b->failed ? -1 : 0;
}

int nh_buf_html_text(nh_buf *b, const char *html) { return convert(b, html, 0); }

int nh_buf_html_telegram(nh_buf *b, const char *html) { return convert(b, html, 1); }

char *nh_html_text(const char *html) {
  nh_buf b = { 0 };
  nh_buf_html_text(&b, html);
  return nh_buf_take(&b);
}

/* ---- a message's text, as the platforms that cannot show HTML send it ---- */

char *nh_body_text(const nh_message *m) {
  if (nh_format_is(m, "html")) return nh_html_text(m->body);
  return nh_strdup(m->body ? m->body : "");
}

/* An html body arrives as plain text: these platforms cannot show HTML. */
char *nh_title_body(const nh_message *m, const char *sep) {
  char *body = nh_body_text(m);
  char *text =
    body ? nh_sprintf("%s%s%s", m->title ? m->title : "", m->title && *body ? sep : "", body)
         : NULL;
  free(body);
  return text;
}

int nh_format_is(const nh_message *m, const char *format) {
  return m->format && strcmp(m->format, format) == 0;
}

const char *nh_type_pick(const nh_message *m, const char *const by_type[4]) {
  return m->type >= NH_TYPE_INFO && m->type <= NH_TYPE_FAILURE ? by_type[m->type - NH_TYPE_INFO]
                                                               : NULL;
}

int nh_type_index(const nh_message *m) {
  return m->type >= NH_TYPE_INFO && m->type <= NH_TYPE_FAILURE ? m->type - NH_TYPE_INFO : 0;
}

const char *nh_type_word(const nh_message *m, int capital) {
  static const char *const words[4] = { "info", "success", "warning", "failure" };
  static const char *const titles[4] = { "Info", "Success", "Warning", "Failure" };
  return nh_type_pick(m, capital ? titles : words);
}
