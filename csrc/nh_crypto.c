/*
 * nh_crypto.c: the signatures platforms put on requests, computed with
 * OpenSSL's libcrypto (HMAC-SHA256, base64).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "nh_internal.h"

int nh_hmac_sha256_base64(const void *key, size_t keylen, const void *data,
                          size_t datalen, char *out, size_t outlen) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (outlen < 45) return -1;
  /* HMAC() with an empty key needs a non-NULL pointer. */
  if (!HMAC(EVP_sha256(), key ? key : "", (int)keylen, data ? data : (const void *)"",
            datalen, mac, &maclen))
    return -1;
  EVP_EncodeBlock((unsigned char *)out, mac, (int)maclen);
  return 0;
}
