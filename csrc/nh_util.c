/*
 * nh_util.c: names of codes and platforms, clocks and string helpers shared
 * by the core's files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nh_internal.h"

static const char *const code_names[] = {
#define NH_X_NAME(name, text) #name,
  NH_ERRORS(NH_X_NAME)
#undef NH_X_NAME
};

static const char *const code_texts[] = {
#define NH_X_TEXT(name, text) text,
  NH_ERRORS(NH_X_TEXT)
#undef NH_X_TEXT
};

static const char *const platform_names[] = {
#define NH_X_NAME(id, name) #name,
  NH_PLATFORMS(NH_X_NAME)
#undef NH_X_NAME
};

const char *nh_code_name(nh_code code) {
  if ((unsigned)code >= NH_CODE_COUNT) return "INTERNAL";
  return code_names[code];
}

const char *nh_code_text(nh_code code) {
  if ((unsigned)code >= NH_CODE_COUNT) return "internal error";
  return code_texts[code];
}

const char *nh_platform_name(nh_platform_id id) {
  if ((unsigned)id >= NH_PLATFORM_COUNT) return "unknown";
  return platform_names[id];
}

int nh_platform_from_name(const char *name) {
  for (int i = 0; i < NH_PLATFORM_COUNT; i++)
    if (strcmp(platform_names[i], name) == 0) return i;
  return -1;
}

double nh_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double nh_wall_time(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *nh_strdup(const char *s) { return s ? nh_strndup(s, strlen(s)) : NULL; }

char *nh_strndup(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *nh_vsprintf(const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0) return NULL;
  char *p = malloc((size_t)n + 1);
  if (p) vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *nh_sprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = nh_vsprintf(fmt, ap);
  va_end(ap);
  return p;
}
