/*
 * nh_platforms.h: the one list of platforms the core can deliver to.
 *
 * X(ENUM, name): NH_PLATFORM_ENUM and the Lua-visible name. Each entry has a
 * file csrc/nh_<name>.c that defines `const nh_platform nh_platform_<name>`.
 */
#ifndef NH_PLATFORMS_H
#define NH_PLATFORMS_H

#define NH_PLATFORMS(X) \
  X(FEISHU, feishu)     \
  X(WEBHOOK, webhook)   \
  X(SLACK, slack)       \
  X(DINGTALK, dingtalk) \
  X(WECOM, wecom)       \
  X(DISCORD, discord)   \
  X(TELEGRAM, telegram) \
  X(TEAMS, teams)       \
  X(EMAIL, email)

typedef enum nh_platform_id {
#define NH_X_ENUM(id, name) NH_PLATFORM_##id,
  NH_PLATFORMS(NH_X_ENUM)
#undef NH_X_ENUM
  NH_PLATFORM_COUNT
} nh_platform_id;

#endif
