// ChaCha20-Poly1305 (IETF, RFC 8439) sealed and opened in place with the OpenSSL inside node.
//
// node's binary exports OpenSSL's EVP symbols and ships their headers, so this links against
// the very library node:crypto uses (no second copy, no libssl-dev). What node:crypto adds per
// call (a Cipher object, an output Buffer, argument checks in JS) is gone: a key gets one
// EVP_CIPHER_CTX per direction at aeadCreate, and each call only sets the nonce and runs the
// cipher over the caller's buffer. Nothing is allocated per call.
//
// Nonce (12 bytes): 4 zero bytes, then the 64-bit counter little-endian, as src/crypto/aead.ts.
// Buffer layout of one record: buf[adStart, adEnd) associated data, buf[adEnd, textEnd) text
// (plaintext before seal, ciphertext after), buf[textEnd, textEnd + 16) the tag.
//
// Errors: a wrong argument (type, offset outside the buffer, counter not an integer in
// [0, 2^53)) is a programming error and throws TypeError/RangeError with code ERR_INVALID_ARG.
// A packet that fails authentication is ordinary: aeadOpen returns false and zeroes the text.
// After aeadWipe, aeadSeal throws ERR_INVALID_STATE (it must never leave plaintext behind
// silently) and aeadOpen returns false like any unauthentic packet.
#include "common.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/params.h>

#if OPENSSL_VERSION_MAJOR < 3
#error "native/aead.c expects node's OpenSSL 3 headers (node-gyp's include/node/openssl)"
#endif

// From the specification (RFC 8439 section 2.8).
#define KEY_BYTES 32
#define NONCE_BYTES 12
#define TAG_BYTES 16
// Our choice: counters are JS numbers, exact below 2^53.
#define MAX_COUNTER 9007199254740991.0

typedef struct {
  EVP_CIPHER_CTX *seal, *open;  // NULL once wiped; the struct itself is freed by the finalizer only
} aead_key;

// Marks our externals, so another addon handle passed by mistake is rejected, not dereferenced.
static const napi_type_tag AEAD_TAG = { 0x6773742d61656164ULL, 0x6368616368613230ULL };

static void free_contexts(aead_key *k) {
  // EVP_CIPHER_CTX_free cleanses the expanded key state held by the provider.
  EVP_CIPHER_CTX_free(k->seal);
  EVP_CIPHER_CTX_free(k->open);
  k->seal = k->open = NULL;
}

static void finalize_key(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  aead_key *k = data;
  free_contexts(k);  // no-op after aeadWipe: the pointers are NULL then
  free(k);
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG", message);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_INVALID_ARG", message);
  return NULL;
}

// An integral JS number in [0, max]; anything else (string, NaN, 1.5, -1) fails.
static bool arg_index(napi_env env, napi_value v, double max, double *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0 && d <= max) || d != floor(d)) return false;
  *out = d;
  return true;
}

// The key behind a handle; NULL if it is not one of ours (a wiped key has NULL contexts).
static aead_key *key_arg(napi_env env, napi_value v) {
  bool ours = false;
  void *data = NULL;
  napi_valuetype type;
  // Only externals: the tag check would throw on null/undefined (ToObject) behind our back.
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external) return NULL;
  if (napi_check_object_type_tag(env, v, &AEAD_TAG, &ours) != napi_ok || !ours) return NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

static void write_nonce(uint8_t nonce[NONCE_BYTES], double counter) {
  uint64_t c = (uint64_t)counter;
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(c >> (8 * i));
}

// aeadCreate(key: Uint8Array(32)) -> handle
static napi_value aead_create(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *key; size_t key_len;
  if (argc < 1 || !gst_arg_bytes(env, argv[0], &key, &key_len)) return throw_type(env, "usage: aeadCreate(key: Uint8Array(32))");
  if (key_len != KEY_BYTES) return throw_range(env, "aeadCreate: the key must be 32 bytes");
  aead_key *k = calloc(1, sizeof *k);
  if (!k) return gst_throw(env, "ENOMEM", "out of memory");
  // Copy the key first: the JS buffer could be shared memory another thread writes to.
  uint8_t copy[KEY_BYTES];
  memcpy(copy, key, KEY_BYTES);
  const EVP_CIPHER *cipher = EVP_chacha20_poly1305();
  k->seal = EVP_CIPHER_CTX_new();
  k->open = EVP_CIPHER_CTX_new();
  bool ok = k->seal && k->open &&
    EVP_EncryptInit_ex(k->seal, cipher, NULL, NULL, NULL) == 1 &&
    EVP_CIPHER_CTX_ctrl(k->seal, EVP_CTRL_AEAD_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
    EVP_EncryptInit_ex(k->seal, NULL, NULL, copy, NULL) == 1 &&
    EVP_DecryptInit_ex(k->open, cipher, NULL, NULL, NULL) == 1 &&
    EVP_CIPHER_CTX_ctrl(k->open, EVP_CTRL_AEAD_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
    EVP_DecryptInit_ex(k->open, NULL, NULL, copy, NULL) == 1;
  OPENSSL_cleanse(copy, sizeof copy);
  if (!ok) {
    ERR_clear_error();
    free_contexts(k);
    free(k);
    return gst_throw(env, "ERR_OPENSSL", "aeadCreate: OpenSSL refused chacha20-poly1305");
  }
  napi_value handle;
  if (napi_create_external(env, k, finalize_key, NULL, &handle) != napi_ok) {
    free_contexts(k);
    free(k);
    gst_rethrow(env);
    return NULL;
  }
  CHECK(napi_type_tag_object(env, handle, &AEAD_TAG));
  return handle;
}

// Parsed arguments of aeadSeal/aeadOpen: (handle, buf, adStart, adEnd, textEnd, counter).
typedef struct {
  aead_key *key;
  uint8_t *buf;
  size_t ad_start, ad_end, text_end;
  double counter;
} record_args;

static bool parse_record(napi_env env, napi_callback_info info, const char *name, record_args *r) {
  size_t argc = 6; napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) { gst_rethrow(env); return false; }
  char msg[160];
  size_t len;
  double ad_start, ad_end, text_end;
  if (argc < 6 || !(r->key = key_arg(env, argv[0])) || !gst_arg_bytes(env, argv[1], &r->buf, &len)) {
    snprintf(msg, sizeof msg, "usage: %s(handle from aeadCreate, buf: Uint8Array, adStart, adEnd, textEnd, counter)", name);
    throw_type(env, msg);
    return false;
  }
  // Every bound against the buffer: adStart <= adEnd <= textEnd and textEnd + 16 <= length.
  if (len < TAG_BYTES || !arg_index(env, argv[2], (double)len, &ad_start) || !arg_index(env, argv[3], (double)len, &ad_end) ||
      !arg_index(env, argv[4], (double)(len - TAG_BYTES), &text_end) || ad_start > ad_end || ad_end > text_end) {
    snprintf(msg, sizeof msg, "%s: need integers 0 <= adStart <= adEnd <= textEnd <= buf.length - 16 (buf.length %zu)", name, len);
    throw_range(env, msg);
    return false;
  }
  if (!arg_index(env, argv[5], MAX_COUNTER, &r->counter)) {
    snprintf(msg, sizeof msg, "%s: counter must be an integer in [0, 2^53)", name);
    throw_range(env, msg);
    return false;
  }
  r->ad_start = (size_t)ad_start; r->ad_end = (size_t)ad_end; r->text_end = (size_t)text_end;
  return true;
}

// EVP lengths are unsigned int: feed at most 1 GiB at a time (a 2 GiB buffer is legal in JS).
#define CHUNK ((size_t)1 << 30)

// AD (out NULL) or text through EVP_Cipher, the provider's cipher function without the
// bookkeeping of EVP_{En,De}cryptUpdate: for chacha20-poly1305 both reach the same code, and
// this saves about a fifth of the per-call cost on small packets (OpenSSL 3.0, measured).
static bool feed(EVP_CIPHER_CTX *ctx, uint8_t *out, const uint8_t *in, size_t len) {
  for (size_t off = 0; off < len; off += CHUNK) {
    size_t step = len - off < CHUNK ? len - off : CHUNK;
    if (EVP_Cipher(ctx, out ? out + off : NULL, in + off, (unsigned int)step) < 0) return false;
  }
  return true;
}

static bool seal_one(EVP_CIPHER_CTX *ctx, uint8_t *ad, size_t ad_len, uint8_t *text, size_t text_len, uint8_t *tag, double counter) {
  uint8_t nonce[NONCE_BYTES];
  int n;
  write_nonce(nonce, counter);
  // The tag through a parameter rather than EVP_CIPHER_CTX_ctrl, which builds the same one.
  OSSL_PARAM params[2] = { OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, TAG_BYTES), OSSL_PARAM_construct_end() };
  return EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
    feed(ctx, NULL, ad, ad_len) && feed(ctx, text, text, text_len) &&
    EVP_EncryptFinal_ex(ctx, text + text_len, &n) == 1 &&  // writes nothing: a stream cipher
    EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

static bool open_one(EVP_CIPHER_CTX *ctx, uint8_t *ad, size_t ad_len, uint8_t *text, size_t text_len, uint8_t *tag, double counter) {
  uint8_t nonce[NONCE_BYTES];
  int n;
  write_nonce(nonce, counter);
  OSSL_PARAM params[2] = { OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, TAG_BYTES), OSSL_PARAM_construct_end() };
  // Final compares the tag in constant time (CRYPTO_memcmp inside OpenSSL).
  return EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
    feed(ctx, NULL, ad, ad_len) && feed(ctx, text, text, text_len) &&
    EVP_CIPHER_CTX_set_params(ctx, params) == 1 &&
    EVP_DecryptFinal_ex(ctx, text + text_len, &n) == 1;
}

// aeadSeal(handle, buf, adStart, adEnd, textEnd, counter): encrypts buf[adEnd, textEnd) in
// place and writes the tag to buf[textEnd, textEnd + 16).
static napi_value aead_seal(napi_env env, napi_callback_info info) {
  record_args r;
  if (!parse_record(env, info, "aeadSeal", &r)) return NULL;
  if (!r.key->seal) return gst_throw(env, "ERR_INVALID_STATE", "aeadSeal: the key was wiped");
  if (!seal_one(r.key->seal, r.buf + r.ad_start, r.ad_end - r.ad_start, r.buf + r.ad_end, r.text_end - r.ad_end, r.buf + r.text_end, r.counter)) {
    // Not expected once the context is set up; never leave the plaintext looking sealed.
    OPENSSL_cleanse(r.buf + r.ad_end, r.text_end - r.ad_end + TAG_BYTES);
    ERR_clear_error();
    return gst_throw(env, "ERR_OPENSSL", "aeadSeal: OpenSSL failed to encrypt");
  }
  return NULL;
}

// aeadSealFrom(handle, dst, adStart, adEnd, headEnd, src, srcStart, srcEnd, counter): seals one
// record whose plaintext is in two places: dst[adEnd, headEnd) (e.g. a frame header, encrypted
// in place) followed by src[srcStart, srcEnd), which is encrypted into dst[headEnd, headEnd + n)
// (n = srcEnd - srcStart); dst[adStart, adEnd) is authenticated and the tag goes after the text.
// Copying the payload into the record and sealing it become one pass, and src is left as it was.
// src must not overlap the record (it may share its buffer).
static napi_value aead_seal_from(napi_env env, napi_callback_info info) {
  size_t argc = 9; napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  aead_key *k;
  uint8_t *dst, *src; size_t dst_len, src_len;
  double ad_start, ad_end, head_end, src_start, src_end, counter;
  if (argc < 9 || !(k = key_arg(env, argv[0])) || !gst_arg_bytes(env, argv[1], &dst, &dst_len) || !gst_arg_bytes(env, argv[5], &src, &src_len)) {
    return throw_type(env, "usage: aeadSealFrom(handle from aeadCreate, dst: Uint8Array, adStart, adEnd, headEnd, src: Uint8Array, srcStart, srcEnd, counter)");
  }
  if (dst_len < TAG_BYTES || !arg_index(env, argv[2], (double)dst_len, &ad_start) || !arg_index(env, argv[3], (double)dst_len, &ad_end) ||
      !arg_index(env, argv[4], (double)(dst_len - TAG_BYTES), &head_end) ||
      !arg_index(env, argv[6], (double)src_len, &src_start) || !arg_index(env, argv[7], (double)src_len, &src_end) ||
      ad_start > ad_end || ad_end > head_end || src_start > src_end || head_end + (src_end - src_start) > (double)(dst_len - TAG_BYTES)) {
    char msg[240];
    snprintf(msg, sizeof msg, "aeadSealFrom: need integers 0 <= adStart <= adEnd <= headEnd, srcStart <= srcEnd <= src.length, headEnd + (srcEnd - srcStart) <= dst.length - 16 (dst.length %zu, src.length %zu)", dst_len, src_len);
    return throw_range(env, msg);
  }
  if (!arg_index(env, argv[8], MAX_COUNTER, &counter)) return throw_range(env, "aeadSealFrom: counter must be an integer in [0, 2^53)");
  size_t head = (size_t)(head_end - ad_end), n = (size_t)(src_end - src_start);
  uint8_t *text = dst + (size_t)ad_end, *in = src + (size_t)src_start, *out = text + head;
  uint8_t *record_start = dst + (size_t)ad_start, *record_end = out + n + TAG_BYTES;
  if (n > 0 && in < record_end && record_start < in + n) return throw_range(env, "aeadSealFrom: the source overlaps the record");
  if (!k->seal) return gst_throw(env, "ERR_INVALID_STATE", "aeadSealFrom: the key was wiped");
  uint8_t nonce[NONCE_BYTES];
  int unused;
  write_nonce(nonce, counter);
  OSSL_PARAM params[2] = { OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out + n, TAG_BYTES), OSSL_PARAM_construct_end() };
  // The cipher keeps its keystream position across calls, so the two pieces form one text.
  bool ok = EVP_EncryptInit_ex(k->seal, NULL, NULL, NULL, nonce) == 1 &&
    feed(k->seal, NULL, record_start, (size_t)(ad_end - ad_start)) && feed(k->seal, text, text, head) && feed(k->seal, out, in, n) &&
    EVP_EncryptFinal_ex(k->seal, out + n, &unused) == 1 &&
    EVP_CIPHER_CTX_get_params(k->seal, params) == 1;
  if (!ok) {
    OPENSSL_cleanse(text, head + n + TAG_BYTES);
    ERR_clear_error();
    return gst_throw(env, "ERR_OPENSSL", "aeadSealFrom: OpenSSL failed to encrypt");
  }
  return NULL;
}

// aeadOpen(handle, buf, adStart, adEnd, textEnd, counter) -> boolean: checks the tag at
// buf[textEnd, textEnd + 16) and decrypts buf[adEnd, textEnd) in place. On false the text
// range is zeroed, so no unauthenticated plaintext is ever visible.
static napi_value aead_open(napi_env env, napi_callback_info info) {
  record_args r;
  if (!parse_record(env, info, "aeadOpen", &r)) return NULL;
  bool ok = r.key->open &&
    open_one(r.key->open, r.buf + r.ad_start, r.ad_end - r.ad_start, r.buf + r.ad_end, r.text_end - r.ad_end, r.buf + r.text_end, r.counter);
  if (!ok) {
    memset(r.buf + r.ad_end, 0, r.text_end - r.ad_end);
    // Leave nothing on this thread's OpenSSL error queue for node:crypto to trip over later.
    ERR_clear_error();
  }
  napi_value result;
  CHECK(napi_get_boolean(env, ok, &result));
  return result;
}

// aeadSealSlots(handle, arena, slotBytes, lengths: Uint32Array, count, adLen, counters: Float64Array)
// seals packet i, arena[i * slotBytes, + lengths[i]), whose first adLen bytes are the associated
// data, with counters[i]; appends the tag and adds 16 to lengths[i]. Everything is checked
// before anything is sealed, so a bad argument throws with the arena untouched.
static napi_value aead_seal_slots(napi_env env, napi_callback_info info) {
  size_t argc = 7; napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  aead_key *k;
  uint8_t *arena, *lengths_bytes, *counters_bytes; size_t arena_len, lengths_len, counters_len;
  double slot_bytes, count, ad_len;
  if (argc < 7 || !(k = key_arg(env, argv[0])) || !gst_arg_bytes(env, argv[1], &arena, &arena_len) ||
      !gst_arg_bytes(env, argv[3], &lengths_bytes, &lengths_len) || !gst_arg_bytes(env, argv[6], &counters_bytes, &counters_len) ||
      ((uintptr_t)lengths_bytes & 3) || ((uintptr_t)counters_bytes & 7)) {
    return throw_type(env, "usage: aeadSealSlots(handle, arena: Uint8Array, slotBytes, lengths: Uint32Array, count, adLen, counters: Float64Array)");
  }
  if (!arg_index(env, argv[2], (double)arena_len, &slot_bytes) || !arg_index(env, argv[4], (double)(lengths_len / 4), &count) ||
      count > (double)(counters_len / 8) || (slot_bytes > 0 && count > floor((double)arena_len / slot_bytes)) ||
      !arg_index(env, argv[5], slot_bytes, &ad_len)) {
    return throw_range(env, "aeadSealSlots: count exceeds lengths, counters or the arena, or adLen exceeds slotBytes");
  }
  if (!k->seal) return gst_throw(env, "ERR_INVALID_STATE", "aeadSealSlots: the key was wiped");
  uint32_t *lengths = (uint32_t *)lengths_bytes;
  const double *counters = (const double *)counters_bytes;
  size_t n = (size_t)count, slot = (size_t)slot_bytes, ad = (size_t)ad_len;
  for (size_t i = 0; i < n; i++) {
    double c = counters[i];
    if (lengths[i] < ad || (size_t)lengths[i] + TAG_BYTES > slot || !(c >= 0 && c <= MAX_COUNTER) || c != floor(c)) {
      return throw_range(env, "aeadSealSlots: a packet is shorter than adLen, leaves no room for the tag, or has a bad counter");
    }
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = arena + i * slot;
    size_t len = lengths[i];
    if (!seal_one(k->seal, p, ad, p + ad, len - ad, p + len, counters[i])) {
      OPENSSL_cleanse(p + ad, len - ad + TAG_BYTES);
      ERR_clear_error();
      return gst_throw(env, "ERR_OPENSSL", "aeadSealSlots: OpenSSL failed to encrypt");
    }
    lengths[i] = (uint32_t)(len + TAG_BYTES);
  }
  return NULL;
}

// aeadOpenSlots(handle, arena, offsets: Uint32Array, lengths: Uint32Array, indexes: Uint32Array,
// first, count, adLen, counters: Float64Array, ok: Uint8Array) opens, for j in [first, first +
// count), record i = indexes[j]: arena[offsets[i], + lengths[i]), its first adLen bytes the
// associated data, its last 16 the tag, its counter counters[i]; ok[i] = 1 if it authenticates,
// else 0 (a record out of the arena, too short or with a bad counter is simply not authentic,
// and a failed record's text is zeroed). One call for a receive batch instead of one per record.
static napi_value aead_open_slots(napi_env env, napi_callback_info info) {
  size_t argc = 10; napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  aead_key *k;
  uint8_t *arena, *offsets_b, *lengths_b, *indexes_b, *counters_b, *ok;
  size_t arena_len, offsets_len, lengths_len, indexes_len, counters_len, ok_len;
  double first, count, ad_len;
  if (argc < 10 || !(k = key_arg(env, argv[0])) || !gst_arg_bytes(env, argv[1], &arena, &arena_len) ||
      !gst_arg_bytes(env, argv[2], &offsets_b, &offsets_len) || !gst_arg_bytes(env, argv[3], &lengths_b, &lengths_len) ||
      !gst_arg_bytes(env, argv[4], &indexes_b, &indexes_len) || !gst_arg_bytes(env, argv[8], &counters_b, &counters_len) ||
      !gst_arg_bytes(env, argv[9], &ok, &ok_len) ||
      ((uintptr_t)offsets_b & 3) || ((uintptr_t)lengths_b & 3) || ((uintptr_t)indexes_b & 3) || ((uintptr_t)counters_b & 7)) {
    return throw_type(env, "usage: aeadOpenSlots(handle, arena, offsets: Uint32Array, lengths: Uint32Array, indexes: Uint32Array, first, count, adLen, counters: Float64Array, ok: Uint8Array)");
  }
  size_t records = offsets_len / 4 < lengths_len / 4 ? offsets_len / 4 : lengths_len / 4;
  if (counters_len / 8 < records) records = counters_len / 8;
  if (ok_len < records) records = ok_len;
  if (!arg_index(env, argv[5], (double)(indexes_len / 4), &first) || !arg_index(env, argv[6], (double)(indexes_len / 4) - first, &count) ||
      !arg_index(env, argv[7], 1024, &ad_len)) {
    return throw_range(env, "aeadOpenSlots: first + count exceeds indexes, or adLen is out of range");
  }
  const uint32_t *offsets = (const uint32_t *)offsets_b, *lengths = (const uint32_t *)lengths_b, *indexes = (const uint32_t *)indexes_b;
  const double *counters = (const double *)counters_b;
  size_t ad = (size_t)ad_len;
  bool any_failed = false;
  for (size_t j = (size_t)first; j < (size_t)(first + count); j++) {
    uint32_t i = indexes[j];
    if (i >= records) continue;
    size_t at = offsets[i], len = lengths[i];
    double c = counters[i];
    bool authentic = false;
    if (k->open && at <= arena_len && len <= arena_len - at && len >= ad + TAG_BYTES && c >= 0 && c <= MAX_COUNTER && c == floor(c)) {
      uint8_t *p = arena + at;
      authentic = open_one(k->open, p, ad, p + ad, len - ad - TAG_BYTES, p + len - TAG_BYTES, c);
      if (!authentic) { memset(p + ad, 0, len - ad - TAG_BYTES); any_failed = true; }
    }
    ok[i] = authentic ? 1 : 0;
  }
  if (any_failed) ERR_clear_error();
  return NULL;
}

// aeadWipe(handle): frees both contexts now (OpenSSL cleanses the key state); the handle stays
// valid as a JS value and its finalizer later frees only the small struct. Idempotent.
static napi_value aead_wipe(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  aead_key *k;
  if (argc < 1 || !(k = key_arg(env, argv[0]))) return throw_type(env, "usage: aeadWipe(handle from aeadCreate)");
  free_contexts(k);
  return NULL;
}

// aeadOpenSslVersion() -> e.g. "OpenSSL 3.0.19 27 Jan 2026", the library actually running.
static napi_value aead_openssl_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &result));
  return result;
}

void gst_register_aead(napi_env env, napi_value exports) {
  // The EVP calls used here are stable across OpenSSL 3.x; refuse a different major at runtime
  // (e.g. a node built against a shared OpenSSL of another major) instead of misbehaving.
  if ((OpenSSL_version_num() >> 28) != (OPENSSL_VERSION_NUMBER >> 28)) return;
  gst_export(env, exports, "aeadCreate", aead_create);
  gst_export(env, exports, "aeadSeal", aead_seal);
  gst_export(env, exports, "aeadSealFrom", aead_seal_from);
  gst_export(env, exports, "aeadOpen", aead_open);
  gst_export(env, exports, "aeadSealSlots", aead_seal_slots);
  gst_export(env, exports, "aeadOpenSlots", aead_open_slots);
  gst_export(env, exports, "aeadWipe", aead_wipe);
  gst_export(env, exports, "aeadOpenSslVersion", aead_openssl_version);
}
