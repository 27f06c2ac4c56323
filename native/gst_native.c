// Module entry and the helpers every part of the addon shares.
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

void gst_rethrow(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_type_error(env, "ERR_INVALID_ARG", info && info->error_message ? info->error_message : "invalid argument");
}

const char *gst_errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

napi_value gst_throw(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

napi_value gst_throw_errno(napi_env env, int err, const char *what, const char *hint) {
  char msg[512];
  if (hint) snprintf(msg, sizeof msg, "%s: %s (%s)", what, gst_errno_name(err), hint);
  else snprintf(msg, sizeof msg, "%s: %s (%s)", what, gst_errno_name(err), strerror(err));
  return gst_throw(env, gst_errno_name(err), msg);
}

bool gst_arg_int32(napi_env env, napi_value v, int32_t *out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

bool gst_arg_uint32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

bool gst_arg_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len + 1 > size) return false;
  return napi_get_value_string_utf8(env, v, buf, size, &len) == napi_ok;
}

bool gst_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type; size_t count; void *p; napi_value ab; size_t off;
    if (napi_get_typedarray_info(env, v, &type, &count, &p, &ab, &off) != napi_ok) return false;
    static const size_t width[] = { 1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8 };
    *data = p; *len = count * (type <= napi_biguint64_array ? width[type] : 1);
    return true;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    void *p;
    if (napi_get_arraybuffer_info(env, v, &p, len) != napi_ok) return false;
    *data = p;
    return true;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    void *p; napi_value ab; size_t off;
    if (napi_get_dataview_info(env, v, len, &p, &ab, &off) != napi_ok) return false;
    *data = p;
    return true;
  }
  return false;
}

void gst_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);
  napi_set_named_property(env, exports, name, f);
}

// native/aead.c (declared here rather than in common.h: nothing else in the addon calls it).
void gst_register_aead(napi_env env, napi_value exports);
void gst_register_offload(napi_env env, napi_value exports);
// native/caps.c (likewise).
void gst_register_caps(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  gst_register_tun(env, exports);
  gst_register_packet_io(env, exports);
  gst_register_sockopt(env, exports);
  gst_register_udp(env, exports);
  gst_register_aead(env, exports);
  gst_register_offload(env, exports);
  gst_register_caps(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
