/*
 * render.c: every platform's `render` and `build` on a fuzzed message and
 * target: the webhook template, Feishu text/post/card, Telegram HTML and
 * MarkdownV2, Slack mrkdwn, DingTalk, WeCom, Discord, Teams and the e-mail
 * MIME writer. Input: bytes that pick the platform, the format and which
 * options and platform_data keys are present, then the strings.
 *
 * Checks, beyond ASan/UBSan: render gives a string; a built request has a
 * URL and a body of body_len bytes; a JSON body parses (the webhook's own
 * template aside, unless it is one of ours that is JSON); no HTTP header
 * line holds CR or LF (a message id, a title or an option must never add
 * a header); an e-mail's header block holds only the headers we write.
 */
#include <stdio.h>

#include "fuzz_input.h"
#include "nh_internal.h"

static const char *const formats[] = { "text", "markdown", "html", NULL, "rtf" };

/* Templates that are JSON once their fields are put in (escaped). */
static const char *const json_templates[] = {
  "{\"text\":\"{{title}}: {{body}}\",\"id\":\"{{id}}\"}",
  "{\"p\":\"{{priority}}\",\"f\":\"{{format}}\",\"b\":\"{{body}}{{body}}\",\"x\":\"{{nope}}\"}",
};

/* Option keys, in the order the corpus's inputs pick them by (a byte % the
 * count): these first, as they were when the seeds and findings were
 * written; then every other option key of a platform's descriptor
 * (all_option_keys), so that a new platform's options are fuzzed without
 * an edit here. chat_id, to, cc and bcc are not descriptor options: the
 * façade adds them to a target's options (target.lua's resolvers). */
static const char *const corpus_keys[] = {
  "template",
  "content_type",
  "parse_mode",
  "chat_id",
  "mentions",
  "username",
  "icon_emoji",
  "icon_url",
  "channel",
  "at_mobiles",
  "at_user_ids",
  "at_all",
  "mentioned_list",
  "mentioned_mobile_list",
  "avatar_url",
  "wait",
  "disable_notification",
  "from",
  "to",
  "cc",
  "bcc",
  "tls",
};

#define MAX_OPTION_KEYS 128

static int listed(const char *const *keys, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i], key) == 0) return 1;
  return 0;
}

/* corpus_keys, then the descriptors' other option keys. Keys set in the
 * client's config only (attachments_dir) are left out: a fuzzed folder
 * would have the target open files of the machine it runs on. */
static size_t all_option_keys(const char **keys) {
  size_t n = sizeof corpus_keys / sizeof *corpus_keys;
  memcpy(keys, corpus_keys, sizeof corpus_keys);
  for (int id = 0; id < NH_PLATFORM_COUNT; id++) {
    for (const nh_platform_key *k = nh_platform_describe((nh_platform_id)id)->keys; k->name; k++) {
      if (!(k->flags & NH_KEY_OPTION) || (k->flags & NH_KEY_CLIENT)) continue;
      if (!listed(keys, n, k->name) && n < MAX_OPTION_KEYS) keys[n++] = k->name;
    }
  }
  return n;
}

static const char *const data_keys[] = {
  "msg_type", "card",       "image_key", "share_chat_id",    "mentions",
  "blocks",   "actionCard", "embeds",    "allowed_mentions", "attachments",
};

static const char *const msg_types[] = {
  "text", "post", "interactive", "image", "share_chat", "x"
};

/* A fuzzed JSON value: a string, a list of strings, a bool, a number, or
 * whatever cJSON makes of the next bytes. */
static cJSON *fz_json(fuzz_input *in) {
  switch (fz_u8(in) % 6) {
  case 0: {
    char *s = fz_str(in, 200);
    cJSON *v = cJSON_CreateString(s);
    free(s);
    return v;
  }
  case 1: {
    cJSON *arr = cJSON_CreateArray();
    for (unsigned n = fz_u8(in) % 4; n > 0; n--) {
      char *s = fz_str(in, 60);
      cJSON_AddItemToArray(arr, cJSON_CreateString(s));
      free(s);
    }
    return arr;
  }
  case 2: return cJSON_CreateBool(fz_bool(in));
  case 3: return cJSON_CreateNumber((double)(int16_t)fz_u16(in));
  case 4: {
    char *s = fz_str(in, 300);
    cJSON *v = cJSON_Parse(s);
    free(s);
    return v ? v : cJSON_CreateNull();
  }
  default: { /* an attachment list for e-mail */
    cJSON *arr = cJSON_CreateArray();
    for (unsigned n = fz_u8(in) % 3; n > 0; n--) {
      cJSON *a = cJSON_CreateObject();
      char *name = fz_str(in, 80), *content = fz_str(in, 200);
      cJSON_AddStringToObject(a, "filename", name);
      cJSON_AddStringToObject(a, "content", content);
      if (fz_bool(in)) cJSON_AddStringToObject(a, "content_type", "text/plain");
      free(name);
      free(content);
      cJSON_AddItemToArray(arr, a);
    }
    return arr;
  }
  }
}

static char *strip_crlf(char *s) {
  for (char *p = s; *p; p++)
    if (*p == '\r' || *p == '\n') *p = ' ';
  return s;
}

static int has_crlf(const char *s) { return s && strpbrk(s, "\r\n") != NULL; }

/* The request says its body is JSON (ntfy sends text, Pushover a form). */
static int says_json(const nh_request *req) {
  for (const struct curl_slist *h = req->headers; h; h = h->next)
    if (strncasecmp(h->data, "Content-Type:", 13) == 0) return strstr(h->data, "json") != NULL;
  return 1;
}

/* The header block of an e-mail: every line is one of ours, or a folded
 * continuation (starts with a space). */
static void check_mail_headers(const char *body) {
  static const char *const ours[] = {
    "From: ",         "To: ",           "Cc: ",
    "Subject: ",      "Date: ",         "Message-ID: ",
    "MIME-Version: ", "Content-Type: ", "Content-Transfer-Encoding: "
  };
  const char *end = strstr(body, "\r\n\r\n");
  FZ_CHECK(end, "e-mail without a blank line after the headers");
  int mime = 0;
  for (const char *line = body; line < end + 2;) {
    const char *eol = strstr(line, "\r\n");
    int ok = line[0] == ' ';
    for (size_t i = 0; !ok && i < sizeof ours / sizeof *ours; i++)
      ok = strncmp(line, ours[i], strlen(ours[i])) == 0;
    FZ_CHECK(ok, "e-mail header line not ours: %.*s", (int)(eol - line), line);
    FZ_CHECK(!memchr(line, '\n', (size_t)(eol - line)) && !memchr(line, '\r', (size_t)(eol - line)),
             "bare CR or LF in an e-mail header line");
    mime |= strncmp(line, "MIME-Version: ", 14) == 0;
    line = eol + 2;
  }
  FZ_CHECK(mime, "the MIME-Version header is not in the header block");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *option_keys[MAX_OPTION_KEYS];
  static size_t n_option_keys;
  if (!n_option_keys) n_option_keys = all_option_keys(option_keys);
  fuzz_input in = { data, size };
  nh_platform_id id = (nh_platform_id)(fz_u8(&in) % NH_PLATFORM_COUNT);
  unsigned flags = fz_u16(&in);
  const char *format = formats[fz_u8(&in) % (sizeof formats / sizeof *formats)];

  nh_message m;
  nh_target t;
  memset(&m, 0, sizeof m);
  memset(&t, 0, sizeof t);
  m.id = fz_str(&in, 64);
  m.format = format ? strdup(format) : NULL;
  m.priority = (int)(int8_t)fz_u8(&in);
  m.targets = &t;
  m.n_targets = 1;
  t.platform = id;
  t.url = strdup(flags & 1 ? "https://hooks.example.invalid/services/T0/B0/tok?a=1"
                           : "smtp://127.0.0.1:2525");
  t.label = strdup("fuzz");
  t.overflow = NH_OVERFLOW_SPLIT;
  if (flags & 2) {
    char *s = fz_str(&in, 80);
    if (flags & 4) {
      t.secret = malloc(strlen(s) + 7);
      sprintf(t.secret, "whsec_%s", s);
      free(s);
    } else {
      t.secret = s;
    }
  }
  if (flags & 8) { /* Feishu keywords; headers from the config */
    t.n_keywords = 1 + fz_u8(&in) % 2;
    t.keywords = calloc(t.n_keywords, sizeof *t.keywords);
    for (size_t i = 0; i < t.n_keywords; i++) t.keywords[i] = fz_str(&in, 20);
    t.n_headers = 1;
    t.headers = calloc(1, sizeof *t.headers);
    t.headers[0] = strip_crlf(fz_str(&in, 60));
    t.method = strdup("PUT");
  }
  int our_template = -1;
  if (flags & 16) {
    t.options = cJSON_CreateObject();
    for (unsigned n = 1 + fz_u8(&in) % 6; n > 0; n--) {
      const char *key = option_keys[fz_u8(&in) % n_option_keys];
      if (cJSON_GetObjectItemCaseSensitive(t.options, key)) continue;
      if (strcmp(key, "template") == 0 && fz_bool(&in)) {
        our_template = (int)(fz_u8(&in) % 2);
        cJSON_AddStringToObject(t.options, key, json_templates[our_template]);
      } else if (strcmp(key, "parse_mode") == 0 && fz_bool(&in)) {
        cJSON_AddStringToObject(t.options, key, fz_bool(&in) ? "MarkdownV2" : "none");
      } else if (strcmp(key, "from") == 0 && fz_bool(&in)) {
        cJSON_AddStringToObject(t.options, key, "alerts@example.invalid");
      } else if (strcmp(key, "to") == 0 && fz_bool(&in)) {
        cJSON *to = cJSON_CreateArray();
        cJSON_AddItemToArray(to, cJSON_CreateString("ops@example.invalid"));
        cJSON_AddItemToObject(t.options, key, to);
      } else {
        cJSON_AddItemToObject(t.options, key, fz_json(&in));
      }
    }
  }
  if (flags & 32) {
    m.platform_data = cJSON_CreateObject();
    cJSON *own = cJSON_CreateObject();
    cJSON_AddItemToObject(m.platform_data, nh_platform_name(id), own);
    for (unsigned n = 1 + fz_u8(&in) % 3; n > 0; n--) {
      const char *key = data_keys[fz_u8(&in) % (sizeof data_keys / sizeof *data_keys)];
      if (cJSON_GetObjectItemCaseSensitive(own, key)) continue;
      if (strcmp(key, "msg_type") == 0)
        cJSON_AddStringToObject(own, key,
                                msg_types[fz_u8(&in) % (sizeof msg_types / sizeof *msg_types)]);
      else cJSON_AddItemToObject(own, key, fz_json(&in));
    }
  }
  if (flags & 64) {
    char *s = fz_str(&in, 200);
    m.metadata = cJSON_Parse(s);
    free(s);
    if (m.metadata && !cJSON_IsObject(m.metadata)) {
      cJSON_Delete(m.metadata);
      m.metadata = NULL;
    }
  }
  if (flags & 128) m.title = fz_str(&in, 300);
  if (!(flags & 256) || !m.title) m.body = fz_rest(&in);

  const nh_platform *p = nh_platform_get(id);
  if (p->render) {
    int in_chars = -1;
    char *text = p->render(&m, &t, &in_chars);
    FZ_CHECK(text, "%s: render gave NULL", p->name);
    FZ_CHECK(in_chars == 0 || in_chars == 1, "%s: in_chars %d", p->name, in_chars);
    free(text);
  }

  nh_request req;
  memset(&req, 0, sizeof req);
  char err[256] = "";
  nh_code rc = p->build(&m, &t, &req, err, sizeof err);
  if (rc == NH_OK) {
    FZ_CHECK(req.url && req.body, "%s: built without url or body", p->name);
    FZ_CHECK(req.body_len == strlen(req.body), "%s: body_len %zu, strlen %zu", p->name,
             req.body_len, strlen(req.body));
    for (struct curl_slist *h = req.headers; h; h = h->next)
      FZ_CHECK(!has_crlf(h->data), "%s: CR or LF in the header line \"%s\"", p->name, h->data);
    const char *type = nh_opt_string(&t, "content_type");
    int json = (!type || strstr(type, "json")) && says_json(&req);
    int templated = id == NH_PLATFORM_WEBHOOK && nh_opt_string(&t, "template");
    if (id == NH_PLATFORM_EMAIL) {
      check_mail_headers(req.body);
    } else if (json && (!templated || our_template >= 0)) {
      cJSON *parsed = cJSON_ParseWithLength(req.body, req.body_len);
      FZ_CHECK(parsed, "%s: the JSON body does not parse: %.300s", p->name, req.body);
      cJSON_Delete(parsed);
    }
  } else {
    FZ_CHECK(err[0], "%s: build failed (%s) without a reason", p->name, nh_code_name(rc));
  }
  nh_request_free(&req);

  free(m.id);
  free(m.title);
  free(m.body);
  free(m.format);
  cJSON_Delete(m.metadata);
  cJSON_Delete(m.platform_data);
  free(t.url);
  free(t.label);
  free(t.secret);
  free(t.method);
  for (size_t i = 0; i < t.n_keywords; i++) free(t.keywords[i]);
  free(t.keywords);
  for (size_t i = 0; i < t.n_headers; i++) free(t.headers[i]);
  free(t.headers);
  cJSON_Delete(t.options);
  return 0;
}
