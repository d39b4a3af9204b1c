/*
 * fuzz_input.h: a small reader over libFuzzer's bytes (a C take on LLVM's
 * FuzzedDataProvider): integers and choices from the front, strings cut
 * from what follows. Every reader returns something when the input has run
 * out (0, or an empty string), so a target never has to check.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct fuzz_input {
  const uint8_t *p;
  size_t n;
} fuzz_input;

static inline unsigned fz_u8(fuzz_input *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

static inline unsigned fz_u16(fuzz_input *in) {
  unsigned hi = fz_u8(in);
  return hi << 8 | fz_u8(in);
}

static inline int fz_bool(fuzz_input *in) { return fz_u8(in) & 1; }

/* A string of up to `max` bytes: a length byte (scaled) then the bytes,
 * stopped at the first NUL (the core's strings are C strings). malloc'd. */
static inline char *fz_str(fuzz_input *in, size_t max) {
  size_t want = fz_u8(in);
  if (max > 255) want = want * (max / 255 + 1);
  if (want > max) want = max;
  if (want > in->n) want = in->n;
  size_t len = strnlen((const char *)in->p, want);
  char *s = malloc(len + 1);
  memcpy(s, in->p, len);
  s[len] = '\0';
  in->p += want;
  in->n -= want;
  return s;
}

/* Everything left, as a C string (stopped at the first NUL). */
static inline char *fz_rest(fuzz_input *in) {
  size_t len = strnlen((const char *)in->p, in->n);
  char *s = malloc(len + 1);
  memcpy(s, in->p, len);
  s[len] = '\0';
  in->p += in->n;
  in->n = 0;
  return s;
}

/* Stops the run with a message libFuzzer records as a crash. */
#define FZ_CHECK(cond, ...)                                              \
  do {                                                                   \
    if (!(cond)) {                                                       \
      fprintf(stderr, "fuzz check failed: %s (%s:%d)\n  ", #cond,        \
              __FILE__, __LINE__);                                       \
      fprintf(stderr, __VA_ARGS__);                                      \
      fprintf(stderr, "\n");                                             \
      abort();                                                           \
    }                                                                    \
  } while (0)

#endif
