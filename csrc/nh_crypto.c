/*
 * nh_crypto.c: the signatures platforms put on requests, computed with
 * OpenSSL's libcrypto (HMAC-SHA256, base64).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "nh_internal.h"

int nh_hmac_sha256_base64(const void *key, size_t keylen, const void *data, size_t datalen,
                          char *out, size_t outlen) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (outlen < 45) return -1;
  /* HMAC() with an empty key needs a non-NULL pointer. */
  if (!HMAC(EVP_sha256(), key ? key : "", (int)keylen, data ? data : (const void *)"", datalen, mac,
            &maclen))
    return -1;
  EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
  return 0;
}

/* Decodes base64 (with or without padding) into a new buffer; NULL when it
 * is not base64. */
unsigned char *nh_base64_decode(const char *in, size_t *outlen) {
  size_t n = strlen(in);
  /* The alphabet, then padding that completes the last group of four:
   * EVP_DecodeBlock alone takes "====" (the count below would go
   * negative) and "QUJD=" (a key one byte short). Unpadded input is
   * taken when its length could be base64 (not 4k + 1). */
  size_t body = strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  size_t pads = n - body;
  if (body == 0 || body % 4 == 1 || strspn(in + body, "=") != pads || pads > 2 ||
      (pads > 0 && (body + pads) % 4 != 0))
    return NULL;
  char *padded = malloc(n + 4);
  if (!padded) return NULL;
  memcpy(padded, in, n);
  while (n % 4) padded[n++] = '=';
  padded[n] = '\0';
  unsigned char *out = malloc(n / 4 * 3 + 1);
  int len = out ? EVP_DecodeBlock(out, (unsigned char *)padded, (int)n) : -1;
  if (len < 0) {
    free(out);
    free(padded);
    return NULL;
  }
  /* EVP_DecodeBlock counts the padding as zero bytes. */
  for (size_t i = n; i > 0 && padded[i - 1] == '='; i--) len--;
  free(padded);
  if (len < 0) { /* cannot happen after the checks above */
    free(out);
    return NULL;
  }
  *outlen = (size_t)len;
  return out;
}

char *nh_url_encode(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  nh_buf b = { 0 };
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      nh_buf_add(&b, (const char *)&c, 1);
    } else {
      char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
      nh_buf_add(&b, esc, 3);
    }
  }
  return nh_buf_take(&b);
}
