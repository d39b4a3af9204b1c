/*
 * nh_errors.h: the one list of notifyhub result codes.
 *
 * Each X(NAME, text) entry becomes the enum constant NH_NAME and the stable
 * string "NAME" that Lua sees as the third return value of a failed call.
 * Append new codes at the end: the names are part of the public API.
 */
#ifndef NH_ERRORS_H
#define NH_ERRORS_H

#define NH_ERRORS(X)                                  \
  X(OK, "ok")                                         \
  X(INVALID_MESSAGE, "invalid message")               \
  X(INVALID_CONFIG, "invalid configuration")          \
  X(QUEUE_FULL, "queue full")                         \
  X(CLOSED, "client closed")                          \
  X(TIMEOUT, "timed out")                             \
  X(CANCELLED, "cancelled")                           \
  X(NETWORK, "network error")                         \
  X(TLS, "TLS error")                                 \
  X(HTTP_STATUS, "unexpected HTTP status")            \
  X(PLATFORM_REJECTED, "rejected by the platform")    \
  X(RATE_LIMITED, "rate limited")                     \
  X(NO_MEMORY, "out of memory")                       \
  X(INTERNAL, "internal error")                       \
  X(INVALID_ARGUMENT, "invalid argument")             \
  X(SPOOL_BUSY, "spool locked by another process")    \
  X(SPOOL_FULL, "no room in the spool's file system") \
  X(HANDED_OVER, "handed back to the spool")

typedef enum nh_code {
#define NH_X_ENUM(name, text) NH_##name,
  NH_ERRORS(NH_X_ENUM)
#undef NH_X_ENUM
    NH_CODE_COUNT
} nh_code;

/* "QUEUE_FULL" for NH_QUEUE_FULL; "INTERNAL" for anything out of range. */
const char *nh_code_name(nh_code code);
/* A short English description, e.g. "queue full". */
const char *nh_code_text(nh_code code);

#endif
