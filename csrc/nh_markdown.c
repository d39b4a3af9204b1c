/*
 * nh_markdown.c: markdown through cmark, the CommonMark reference library.
 * E-mail gets cmark's own HTML (safe: raw HTML and javascript: links are
 * left out). The chat platforms get one walk over cmark's node tree with
 * each platform's markup rules (a md_rules row): Slack mrkdwn, Telegram
 * HTML and MarkdownV2, the DingTalk, WeCom and Teams markdown subsets,
 * Pushover's few HTML tags, Rocket.Chat's and Google Chat's markup, and
 * Feishu post elements. A line the author wrote stays a line everywhere.
 */
#include <cmark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nh_internal.h"

/* Normalise merges adjacent text nodes; hard breaks keep the author's lines. */
#define PARSE_OPTS (CMARK_OPT_NORMALIZE)
#define MAX_NEST 32 /* deeper lists and quotes are not indented further */

enum link_kind { LINK_SLACK, LINK_HTML, LINK_MD, LINK_STATE };
enum pre_kind { PRE_NONE, PRE_FENCE, PRE_HTML };

typedef void (*escape_fn)(nh_buf *b, const char *s, size_t n);

/* What one platform's markup looks like. */
typedef struct md_rules {
  const char *strong[2], *emph[2], *code[2];
  enum pre_kind pre;        /* code blocks: ``` fences, <pre>, or bare lines */
  const char *quote;        /* prefix of every quoted line, or NULL */
  const char *quote_tag[2]; /* or tags around the outermost quote */
  const char *bullet;
  const char *ordered; /* printf format of an ordered item's number */
  const char *hr;
  int hashes;        /* headings as "## text" up to this many (else in bold) */
  int raw_html;      /* HTML in the markdown passed as it is (else shown as text) */
  const char *image; /* put before an image's link ("!" where images show) */
  const char
    *line_end; /* before a line break inside a paragraph ("  " where "\n" alone is a space) */
  enum link_kind link;
  escape_fn text, code_text, url;
} md_rules;

typedef struct md_prefix {
  char first[24];   /* on the item's first line: "• ", "12. ", "> " */
  const char *rest; /* on the lines after it */
  int used;
} md_prefix;

/* Feishu: text runs waiting to become elements of the current paragraph. */
typedef struct md_feishu {
  cJSON *paras, *para;
  nh_buf run;
  int style; /* 1 bold, 2 italic */
  const char *href;
} md_feishu;

typedef struct md_writer {
  const md_rules *r;
  nh_buf *b;     /* text platforms */
  md_feishu *fs; /* or Feishu */
  md_prefix stack[MAX_NEST];
  int depth, skipped; /* skipped: levels past MAX_NEST */
  int line_start;
  int strong, emph, quotes, links;
  int numbers[MAX_NEST]; /* per open list: the next item's number */
  int lists;
  const char *href;
} md_writer;

/* ---- escaping --------------------------------------------------------- */

static void esc_none(nh_buf *b, const char *s, size_t n) { nh_buf_add(b, s, n); }

static void esc_set(nh_buf *b, const char *s, size_t n, const char *set, const char *const *with) {
  for (size_t i = 0; i < n; i++) {
    const char *hit = strchr(set, s[i]);
    if (s[i] && hit) nh_buf_puts(b, with[hit - set]);
    else nh_buf_add(b, s + i, 1);
  }
}

static void esc_html(nh_buf *b, const char *s, size_t n) {
  esc_set(b, s, n, "&<>\"", (const char *const[]){ "&amp;", "&lt;", "&gt;", "&quot;" });
}

/* Slack: & < > as entities; in a URL also | (it ends the URL). */
static void esc_slack(nh_buf *b, const char *s, size_t n) {
  esc_set(b, s, n, "&<>", (const char *const[]){ "&amp;", "&lt;", "&gt;" });
}

static void esc_slack_url(nh_buf *b, const char *s, size_t n) {
  esc_set(b, s, n, "&<>|", (const char *const[]){ "&amp;", "&lt;", "&gt;", "%7C" });
}

/* Google Chat: a zero-width space after every < of the text, so that text
 * never makes a <users/all> mention or a <url|text> link (Chat has no
 * escape); in a link's URL | and > would end it. */
static void esc_gchat(nh_buf *b, const char *s, size_t n) {
  esc_set(b, s, n, "<", (const char *const[]){ NH_GCHAT_LT });
}

static void esc_gchat_url(nh_buf *b, const char *s, size_t n) {
  esc_set(b, s, n, "|> ", (const char *const[]){ "%7C", "%3E", "%20" });
}

static void esc_backslash(nh_buf *b, const char *s, size_t n, const char *set) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] && strchr(set, s[i])) nh_buf_add(b, "\\", 1);
    nh_buf_add(b, s + i, 1);
  }
}

/* Telegram MarkdownV2: every reserved character in text, ` and \ in code,
 * ) and \ in a link's URL. */
static void esc_v2(nh_buf *b, const char *s, size_t n) {
  esc_backslash(b, s, n, "_*[]()~`>#+-=|{}.!\\");
}
static void esc_v2_code(nh_buf *b, const char *s, size_t n) { esc_backslash(b, s, n, "`\\"); }
static void esc_v2_url(nh_buf *b, const char *s, size_t n) { esc_backslash(b, s, n, ")\\"); }

/* Discord: its markup characters shown as themselves. */
static void esc_discord(nh_buf *b, const char *s, size_t n) {
  esc_backslash(b, s, n, "\\*_~`|[]>#");
}

/* A URL inside markdown's (...): no space or parenthesis to end it early. */
static void esc_md_url(nh_buf *b, const char *s, size_t n) {
  esc_set(b, s, n, " ()", (const char *const[]){ "%20", "%28", "%29" });
}

/* ---- the rules -------------------------------------------------------- */

#define BULLET "\xe2\x80\xa2 "                      /* "• " */
#define RULE "\xe2\x80\x94\xe2\x80\x94\xe2\x80\x94" /* "———" */

static const md_rules rules[] = {
  [NH_MD_SLACK] = { .strong = { "*", "*" },
                    .emph = { "_", "_" },
                    .code = { "`", "`" },
                    .pre = PRE_FENCE,
                    .quote = "> ",
                    .bullet = BULLET,
                    .ordered = "%d. ",
                    .hr = RULE,
                    .link = LINK_SLACK,
                    .text = esc_slack,
                    .code_text = esc_slack,
                    .url = esc_slack_url },
  [NH_MD_TELEGRAM_HTML] = { .strong = { "<b>", "</b>" },
                            .emph = { "<i>", "</i>" },
                            .code = { "<code>", "</code>" },
                            .pre = PRE_HTML,
                            .quote_tag = { "<blockquote>", "</blockquote>" },
                            .bullet = BULLET,
                            .ordered = "%d. ",
                            .hr = RULE,
                            .link = LINK_HTML,
                            .text = esc_html,
                            .code_text = esc_html,
                            .url = esc_html },
  [NH_MD_TELEGRAM_V2] = { .strong = { "*", "*" },
                          .emph = { "_", "_" },
                          .code = { "`", "`" },
                          .pre = PRE_FENCE,
                          .quote = ">",
                          .bullet = BULLET,
                          .ordered = "%d\\. ",
                          .hr = RULE,
                          .link = LINK_MD,
                          .text = esc_v2,
                          .code_text = esc_v2_code,
                          .url = esc_v2_url },
  [NH_MD_DINGTALK] = { .strong = { "**", "**" },
                       .emph = { "*", "*" },
                       .code = { "`", "`" },
                       .pre = PRE_FENCE,
                       .quote = "> ",
                       .bullet = "- ",
                       .ordered = "%d. ",
                       .hr = "---",
                       .hashes = 6,
                       .raw_html = 1,
                       .image = "!",
                       .line_end = "  ",
                       .link = LINK_MD,
                       .text = esc_none,
                       .code_text = esc_none,
                       .url = esc_md_url },
  /* WeCom: bold, links, inline code, quotes and headings; no italic, no blocks. */
  [NH_MD_WECOM] = { .strong = { "**", "**" },
                    .code = { "`", "`" },
                    .pre = PRE_NONE,
                    .quote = "> ",
                    .bullet = "- ",
                    .ordered = "%d. ",
                    .hr = "---",
                    .hashes = 6,
                    .raw_html = 1,
                    .link = LINK_MD,
                    .text = esc_none,
                    .code_text = esc_none,
                    .url = esc_md_url },
  /* Teams TextBlock: bold, italic, lists and links (code keeps its backticks). */
  [NH_MD_TEAMS] = { .strong = { "**", "**" },
                    .emph = { "_", "_" },
                    .code = { "`", "`" },
                    .pre = PRE_NONE,
                    .quote = "> ",
                    .bullet = "- ",
                    .ordered = "%d. ",
                    .hr = "---",
                    .link = LINK_MD,
                    .text = esc_none,
                    .code_text = esc_none,
                    .url = esc_md_url },
  /* Discord: CommonMark's __bold__ is underline there, so marks are
   * rewritten; headings past ### and images have no form of their own. */
  [NH_MD_DISCORD] = { .strong = { "**", "**" },
                      .emph = { "*", "*" },
                      .code = { "`", "`" },
                      .pre = PRE_FENCE,
                      .quote = "> ",
                      .bullet = "- ",
                      .ordered = "%d. ",
                      .hr = RULE,
                      .hashes = 3,
                      .link = LINK_MD,
                      .text = esc_discord,
                      .code_text = esc_none,
                      .url = esc_md_url },
  /* Feishu: styles and links are the elements' own (md_feishu), no marks. */
  [NH_MD_FEISHU] = { .pre = PRE_NONE,
                     .quote = "> ",
                     .bullet = BULLET,
                     .ordered = "%d. ",
                     .hr = RULE,
                     .link = LINK_STATE,
                     .text = esc_none,
                     .code_text = esc_none,
                     .url = esc_none },
  /* Pushover html=1 knows <b>, <i>, <u>, <font color> and <a href> only. */
  [NH_MD_PUSHOVER] = { .strong = { "<b>", "</b>" },
                       .emph = { "<i>", "</i>" },
                       .pre = PRE_NONE,
                       .quote = "&gt; ",
                       .bullet = BULLET,
                       .ordered = "%d. ",
                       .hr = RULE,
                       .link = LINK_HTML,
                       .text = esc_html,
                       .code_text = esc_html,
                       .url = esc_html },
  [NH_MD_ROCKETCHAT] = { .strong = { "*", "*" },
                         .emph = { "_", "_" },
                         .code = { "`", "`" },
                         .pre = PRE_FENCE,
                         .quote = "> ",
                         .bullet = "- ",
                         .ordered = "%d. ",
                         .hr = RULE,
                         .link = LINK_MD,
                         .text = esc_none,
                         .code_text = esc_none,
                         .url = esc_md_url },
  /* Google Chat's own markup is Slack's without its entities. */
  [NH_MD_GCHAT] = { .strong = { "*", "*" },
                    .emph = { "_", "_" },
                    .code = { "`", "`" },
                    .pre = PRE_FENCE,
                    .quote = "> ",
                    .bullet = BULLET,
                    .ordered = "%d. ",
                    .hr = RULE,
                    .link = LINK_SLACK,
                    .text = esc_gchat,
                    .code_text = esc_none,
                    .url = esc_gchat_url },
};

/* ---- the Feishu sink -------------------------------------------------- */

static void fs_flush(md_feishu *fs) {
  if (!fs->run.len) return;
  cJSON *el = cJSON_CreateObject();
  cJSON_AddStringToObject(el, "tag", fs->href ? "a" : "text");
  cJSON_AddStringToObject(el, "text", fs->run.data);
  if (fs->href) cJSON_AddStringToObject(el, "href", fs->href);
  if (fs->style) {
    cJSON *style = cJSON_AddArrayToObject(el, "style");
    if (fs->style & 1) cJSON_AddItemToArray(style, cJSON_CreateString("bold"));
    if (fs->style & 2) cJSON_AddItemToArray(style, cJSON_CreateString("italic"));
  }
  cJSON_AddItemToArray(fs->para, el);
  fs->run.len = 0;
}

static void fs_text(md_feishu *fs, const char *s, size_t n, int style, const char *href) {
  if (style != fs->style || href != fs->href) fs_flush(fs);
  fs->style = style;
  fs->href = href;
  nh_buf_add(&fs->run, s, n);
}

/* A paragraph is never empty: Feishu shows an empty text as a blank line. */
static void fs_newline(md_feishu *fs) {
  fs_flush(fs);
  if (cJSON_GetArraySize(fs->para) == 0) {
    cJSON *el = cJSON_CreateObject();
    cJSON_AddStringToObject(el, "tag", "text");
    cJSON_AddStringToObject(el, "text", "");
    cJSON_AddItemToArray(fs->para, el);
  }
  fs->para = cJSON_CreateArray();
  cJSON_AddItemToArray(fs->paras, fs->para);
}

/* ---- output primitives ------------------------------------------------ */

static void sink_raw(md_writer *w, const char *s, size_t n) {
  if (w->fs) fs_text(w->fs, s, n, 0, NULL);
  else nh_buf_add(w->b, s, n);
}

/* The prefixes (quote marks, list markers, indentation) of a new line. */
static void put_prefix(md_writer *w) {
  if (!w->line_start) return;
  w->line_start = 0;
  for (int i = 0; i < w->depth; i++) {
    md_prefix *p = &w->stack[i];
    const char *s = p->used ? p->rest : p->first;
    sink_raw(w, s, strlen(s));
    p->used = 1;
  }
}

static void raw(md_writer *w, const char *s) {
  if (!s || !*s) return;
  put_prefix(w);
  sink_raw(w, s, strlen(s));
}

static void text(md_writer *w, escape_fn esc, const char *s, size_t n) {
  if (!n) return;
  put_prefix(w);
  if (w->fs) {
    fs_text(w->fs, s, n, (w->strong ? 1 : 0) | (w->emph ? 2 : 0), w->href);
    return;
  }
  esc(w->b, s, n);
}

/* An empty line inside a quote keeps its quote mark ("> a\n>\n> b"). */
static void newline(md_writer *w) {
  if (w->line_start) {
    for (int i = 0; i < w->depth; i++) {
      const char *s = w->stack[i].used ? w->stack[i].rest : w->stack[i].first;
      size_t n = strlen(s);
      while (n && s[n - 1] == ' ') n--;
      if (n) sink_raw(w, s, n);
    }
  }
  if (w->fs) fs_newline(w->fs);
  else nh_buf_add(w->b, "\n", 1);
  w->line_start = 1;
}

static void push(md_writer *w, const char *first, const char *rest) {
  if (w->depth == MAX_NEST) {
    w->skipped++;
    return;
  }
  md_prefix *p = &w->stack[w->depth++];
  snprintf(p->first, sizeof p->first, "%s", first);
  p->rest = rest;
  p->used = 0;
}

static void pop(md_writer *w) {
  if (w->skipped) w->skipped--;
  else if (w->depth) w->depth--;
}

/* ---- the walk --------------------------------------------------------- */

static int tight_parent(cmark_node *node) {
  cmark_node *parent = cmark_node_parent(node);
  if (cmark_node_get_type(parent) == CMARK_NODE_ITEM) parent = cmark_node_parent(parent);
  return cmark_node_get_type(parent) == CMARK_NODE_LIST && cmark_node_get_list_tight(parent);
}

/* Blocks after the first: a blank line between them, a line break in a
 * tight list. */
static void gap(md_writer *w, cmark_node *node) {
  if (!cmark_node_previous(node)) return;
  newline(w);
  if (!tight_parent(node)) newline(w);
}

/* Text with newlines (code and HTML blocks) as lines, without the last
 * newline. */
static void lines(md_writer *w, escape_fn esc, const char *s, int as_raw) {
  if (!s) return;
  size_t n = strlen(s);
  if (n && s[n - 1] == '\n') n--;
  for (size_t i = 0; i <= n;) {
    const char *eol = memchr(s + i, '\n', n - i);
    size_t len = eol ? (size_t)(eol - s - i) : n - i;
    if (as_raw && len) put_prefix(w), sink_raw(w, s + i, len);
    else text(w, esc, s + i, len);
    if (!eol) break;
    newline(w);
    i += len + 1;
  }
}

static void bold(md_writer *w, int enter) {
  if (enter && w->strong++ == 0) raw(w, w->r->strong[0]);
  if (!enter && --w->strong == 0) raw(w, w->r->strong[1]);
}

static void italic(md_writer *w, int enter) {
  if (enter && w->emph++ == 0) raw(w, w->r->emph[0]);
  if (!enter && --w->emph == 0) raw(w, w->r->emph[1]);
}

/* What cmark's HTML renderer refuses too: javascript:, vbscript:, file:
 * and data: other than images (and an empty address). Such a link keeps
 * its text only. */
static int unsafe_url(const char *url) {
  static const char *const bad[] = { "javascript:", "vbscript:", "file:", "data:" };
  static const char *const images[] = { "data:image/png", "data:image/gif", "data:image/jpeg",
                                        "data:image/webp" };
  while (url && (*url == ' ' || *url == '\t')) url++;
  if (!url || !*url) return 1; /* [x]() links nowhere: its text only */
  for (size_t i = 0; i < 4; i++)
    if (strncasecmp(url, images[i], strlen(images[i])) == 0) return 0;
  for (size_t i = 0; i < 4; i++)
    if (strncasecmp(url, bad[i], strlen(bad[i])) == 0) return 1;
  return 0;
}

static void put_url(md_writer *w, const char *url) {
  nh_buf u = { 0 };
  w->r->url(&u, url, strlen(url));
  raw(w, u.data);
  free(u.data);
}

static void link(md_writer *w, cmark_node *node, int enter) {
  const char *url = cmark_node_get_url(node);
  if (unsafe_url(url)) return;
  const md_rules *r = w->r;
  int image = cmark_node_get_type(node) == CMARK_NODE_IMAGE;
  int nested = enter ? w->links++ > 0 : --w->links > 0;
  if (nested) return; /* [![alt](img)](url): one link, the outer */
  if (r->link == LINK_STATE) {
    fs_flush(w->fs); /* the run ends here: url is cmark's */
    w->href = enter ? url : NULL;
  } else if (r->link == LINK_SLACK) {
    if (enter) raw(w, "<"), put_url(w, url), raw(w, cmark_node_first_child(node) ? "|" : "");
    else raw(w, ">");
  } else if (r->link == LINK_HTML) {
    if (enter) raw(w, "<a href=\""), put_url(w, url), raw(w, "\">");
    else raw(w, "</a>");
  } else if (enter) {
    raw(w, image ? r->image : ""), raw(w, "[");
  } else {
    raw(w, "]("), put_url(w, url), raw(w, ")");
  }
  /* [](url) or ![](url): the address is the text (Slack's <url> shows it itself) */
  if (enter && !cmark_node_first_child(node) && r->link != LINK_SLACK)
    text(w, r->text, url, strlen(url));
}

/* The first word of a fence's info string, if it is a plain language name. */
static void language(const char *info, char *out, size_t len) {
  size_t n = 0;
  for (; info && n + 1 < len && info[n] &&
         strchr("abcdefghijklmnopqrstuvwxyz"
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-#._",
                info[n]);
       n++)
    out[n] = info[n];
  out[n] = '\0';
}

static void code_block(md_writer *w, cmark_node *node) {
  const md_rules *r = w->r;
  char lang[32];
  language(cmark_node_get_fence_info(node), lang, sizeof lang);
  if (r->pre == PRE_FENCE) {
    raw(w, "```");
    if (r->link != LINK_SLACK) raw(w, lang); /* Slack would show the language */
    newline(w);
  } else if (r->pre == PRE_HTML) {
    raw(w, "<pre>");
    if (*lang) raw(w, "<code class=\"language-"), raw(w, lang), raw(w, "\">");
  }
  lines(w, r->code_text, cmark_node_get_literal(node), 0);
  if (r->pre == PRE_FENCE) newline(w), raw(w, "```");
  else if (r->pre == PRE_HTML) raw(w, *lang ? "</code></pre>" : "</pre>");
}

/* Continuation lines of an item line up under its text. */
static const char *spaces(size_t n) {
  static const char blank[] = "                ";
  return blank + sizeof blank - 1 - (n < sizeof blank - 1 ? n : sizeof blank - 1);
}

/* Counted as the walk goes: counting an item's siblings would be quadratic. */
static void list(md_writer *w, cmark_node *node, int enter) {
  if (!enter) w->lists--;
  else if (w->lists++ < MAX_NEST) w->numbers[w->lists - 1] = cmark_node_get_list_start(node);
}

static void item(md_writer *w, cmark_node *node, int enter) {
  if (!enter) {
    put_prefix(w); /* an empty item still shows its marker */
    pop(w);
    return;
  }
  cmark_node *list = cmark_node_parent(node);
  char marker[24];
  if (cmark_node_get_list_type(list) == CMARK_ORDERED_LIST) {
    int number =
      w->lists <= MAX_NEST ? w->numbers[w->lists - 1]++ : cmark_node_get_list_start(list);
    snprintf(marker, sizeof marker, w->r->ordered, number);
  } else {
    snprintf(marker, sizeof marker, "%s", w->r->bullet);
  }
  push(w, marker, spaces(nh_utf8_chars(marker, strlen(marker)) - (strchr(marker, '\\') != NULL)));
}

static void quote(md_writer *w, int enter) {
  const md_rules *r = w->r;
  if (r->quote) {
    if (enter) push(w, r->quote, r->quote);
    else pop(w);
  } else if (enter && w->quotes++ == 0) {
    raw(w, r->quote_tag[0]); /* Telegram: quotes do not nest */
  } else if (!enter && --w->quotes == 0) {
    raw(w, r->quote_tag[1]);
  }
}

static void heading(md_writer *w, cmark_node *node, int enter) {
  int level = cmark_node_get_heading_level(node);
  if (w->r->hashes && level <= w->r->hashes) {
    if (enter) raw(w, &"######"[6 - (level < 1 ? 1 : level > 6 ? 6 : level)]), raw(w, " ");
  } else {
    bold(w, enter);
  }
}

static void literal(md_writer *w, cmark_node *node, int raw_html) {
  const char *s = cmark_node_get_literal(node);
  if (raw_html) lines(w, esc_none, s, 1);
  else lines(w, w->r->text, s, 0);
}

static void visit(md_writer *w, cmark_node *node, int enter) {
  cmark_node_type type = cmark_node_get_type(node);
  if (enter && type >= CMARK_NODE_FIRST_BLOCK && type <= CMARK_NODE_LAST_BLOCK &&
      type != CMARK_NODE_DOCUMENT)
    gap(w, node);
  switch (type) {
  case CMARK_NODE_BLOCK_QUOTE: quote(w, enter); break;
  case CMARK_NODE_LIST: list(w, node, enter); break;
  case CMARK_NODE_ITEM: item(w, node, enter); break;
  case CMARK_NODE_HEADING: heading(w, node, enter); break;
  case CMARK_NODE_CODE_BLOCK: code_block(w, node); break;
  case CMARK_NODE_THEMATIC_BREAK: raw(w, w->r->hr); break;
  case CMARK_NODE_HTML_BLOCK:
  case CMARK_NODE_HTML_INLINE: literal(w, node, w->r->raw_html); break;
  case CMARK_NODE_TEXT: literal(w, node, 0); break;
  case CMARK_NODE_SOFTBREAK:
  case CMARK_NODE_LINEBREAK:
    if (w->links && w->r->link == LINK_SLACK)
      raw(w, " "); /* a line break ends Slack's <url|text> */
    else raw(w, w->r->line_end), newline(w);
    break;
  case CMARK_NODE_CODE:
    raw(w, w->r->code[0]);
    lines(w, w->r->code_text, cmark_node_get_literal(node), 0);
    raw(w, w->r->code[1]);
    break;
  case CMARK_NODE_STRONG: bold(w, enter); break;
  case CMARK_NODE_EMPH: italic(w, enter); break;
  case CMARK_NODE_LINK:
  case CMARK_NODE_IMAGE: link(w, node, enter); break;
  default: break;
  }
}

/* Leaf nodes (text, code, breaks) get an enter event only. */
static void walk(md_writer *w, const char *md) {
  cmark_node *doc = cmark_parse_document(md ? md : "", md ? strlen(md) : 0, PARSE_OPTS);
  cmark_iter *it = cmark_iter_new(doc);
  cmark_event_type ev;
  w->line_start = 1;
  while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
    visit(w, cmark_iter_get_node(it), ev == CMARK_EVENT_ENTER);
  }
  cmark_iter_free(it);
  cmark_node_free(doc);
}

/* ---- entry points ----------------------------------------------------- */

int nh_buf_markdown(nh_buf *b, const char *md, nh_md_style style) {
  md_writer w = { .r = &rules[style], .b = b };
  walk(&w, md);
  return b->failed ? -1 : 0;
}

cJSON *nh_markdown_feishu(const char *md) {
  md_feishu fs = { .paras = cJSON_CreateArray() };
  md_writer w = { .r = &rules[NH_MD_FEISHU], .fs = &fs };
  fs.para = cJSON_CreateArray();
  cJSON_AddItemToArray(fs.paras, fs.para);
  walk(&w, md);
  fs_flush(&fs);
  if (cJSON_GetArraySize(fs.para) == 0)
    cJSON_DeleteItemFromArray(fs.paras, cJSON_GetArraySize(fs.paras) - 1);
  free(fs.run.data);
  return fs.paras;
}

/* cmark's HTML: safe (no raw HTML, no javascript: links; the default
 * since 0.29, asked for anyway for older ones); hard breaks so that lines
 * stay lines, as on every chat platform; invalid UTF-8 as U+FFFD. */
char *nh_markdown_html(const char *md) {
  int opts = CMARK_OPT_SAFE | CMARK_OPT_HARDBREAKS | CMARK_OPT_VALIDATE_UTF8;
  cmark_node *doc = cmark_parse_document(md ? md : "", md ? strlen(md) : 0, opts);
  char *html = cmark_render_html(doc, opts);
  cmark_node_free(doc);
  return html;
}
