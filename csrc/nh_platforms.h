/*
 * nh_platforms.h: the one list of platforms the core can deliver to.
 *
 * X(ENUM, name): NH_PLATFORM_ENUM and the Lua-visible name. Each entry has a
 * file csrc/nh_<name>.c that defines `const nh_platform nh_platform_<name>`
 * and, in it, the platform's descriptor (nh_platform_desc below): its config
 * keys, what a target's value is, its default rate limit and which failures
 * are worth another attempt. The binding exports the descriptors as
 * `core.platforms`; the Lua façade derives its schema from them.
 */
#ifndef NH_PLATFORMS_H
#define NH_PLATFORMS_H

#define NH_PLATFORMS(X)     \
  X(FEISHU, feishu)         \
  X(WEBHOOK, webhook)       \
  X(SLACK, slack)           \
  X(DINGTALK, dingtalk)     \
  X(WECOM, wecom)           \
  X(DISCORD, discord)       \
  X(TELEGRAM, telegram)     \
  X(TEAMS, teams)           \
  X(EMAIL, email)           \
  X(MATRIX, matrix)         \
  X(PAGERDUTY, pagerduty)   \
  X(OPSGENIE, opsgenie)     \
  X(BARK, bark)             \
  X(SERVERCHAN, serverchan) \
  X(PUSHPLUS, pushplus)     \
  X(NTFY, ntfy)             \
  X(GOTIFY, gotify)         \
  X(PUSHOVER, pushover)     \
  X(MATTERMOST, mattermost) \
  X(ROCKETCHAT, rocketchat) \
  X(GOOGLECHAT, googlechat)

typedef enum nh_platform_id {
#define NH_X_ENUM(id, name) NH_PLATFORM_##id,
  NH_PLATFORMS(NH_X_ENUM)
#undef NH_X_ENUM
    NH_PLATFORM_COUNT
} nh_platform_id;

/* A config key's flags. */
enum {
  NH_KEY_REQUIRED = 1, /* an instance must set it */
  NH_KEY_OPTION = 2,   /* handed to the platform as it is (nh_target.options) */
  NH_KEY_SECRET = 4,   /* not given to a target that sends somewhere else */
  NH_KEY_VALUE = 8,    /* holds the destination when a target names none */
  NH_KEY_CLIENT = 16   /* set in the client's config only, never per target */
};

/* One key of the platform's config section; a list ends with { NULL }. */
typedef struct nh_platform_key {
  const char *name;
  const char *kind;    /* the façade's checker (config.lua KINDS): "text", "http_url", ... */
  unsigned flags;      /* NH_KEY_* */
  const char *choices; /* kind "choice": the allowed values, comma-separated */
  const char *dflt;    /* what an instance that does not set it gets (a string), or NULL */
} nh_platform_key;

/* What a target's value is: X(ENUM, name). */
#define NH_VALUES(X)  \
  X(NONE, none)       \
  X(URL, url)         \
  X(CHAT_ID, chat_id) \
  X(ADDRESS, address)

typedef enum nh_value_kind {
#define NH_X_ENUM(id, name) NH_VALUE_##id,
  NH_VALUES(NH_X_ENUM)
#undef NH_X_ENUM
    NH_VALUE_COUNT
} nh_value_kind;

/* How an attempt failed (nh_failure_class); a descriptor's `transient`
 * names the classes worth another attempt: X(ENUM, name). */
#define NH_FAILURES(X)          \
  X(NETWORK, network)           \
  X(TIMEOUT, timeout)           \
  X(TLS, tls)                   \
  X(RATE_LIMITED, rate_limited) \
  X(HTTP_408, http_408)         \
  X(HTTP_5XX, http_5xx)         \
  X(HTTP_OTHER, http_other)     \
  X(REPLY_4XX, reply_4xx)       \
  X(REJECTED, rejected)         \
  X(OTHER, other)

typedef enum nh_failure {
#define NH_X_ENUM(id, name) NH_FAIL_##id,
  NH_FAILURES(NH_X_ENUM)
#undef NH_X_ENUM
    NH_FAIL_COUNT
} nh_failure;

#define NH_FAIL_BIT(id) (1u << NH_FAIL_##id)
/* What every HTTP platform retries: no answer, a timeout, 429 or the
 * platform's own "too fast", 408 and 5xx. */
#define NH_TRANSIENT_HTTP                                                    \
  (NH_FAIL_BIT(NETWORK) | NH_FAIL_BIT(TIMEOUT) | NH_FAIL_BIT(RATE_LIMITED) | \
   NH_FAIL_BIT(HTTP_408) | NH_FAIL_BIT(HTTP_5XX))

/* A published rate limit per destination; 0: none of that kind. */
typedef struct nh_rate_default {
  double per_second, per_minute, per_hour, burst;
} nh_rate_default;

/* What a platform says about itself, for the façade and the retry rule. */
typedef struct nh_platform_desc {
  const char *name;
  const nh_platform_key *keys;
  nh_value_kind value;
  nh_rate_default rate;
  unsigned transient; /* NH_FAIL_BIT(...) of the classes worth another attempt */
} nh_platform_desc;

/* The descriptor of a platform; NULL when id is out of range (nh_platform.c). */
const nh_platform_desc *nh_platform_describe(nh_platform_id id);
const char *nh_value_name(nh_value_kind v);
const char *nh_failure_name(nh_failure f);

#endif
