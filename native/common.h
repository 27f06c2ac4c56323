// Shared helpers of the gst native addon: argument parsing and errors with a `code`.
#ifndef GST_COMMON_H
#define GST_COMMON_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Returns NULL from the enclosing napi_callback when a N-API call fails (an exception is pending).
#define CHECK(call) do { if ((call) != napi_ok) { gst_rethrow(env); return NULL; } } while (0)

void gst_rethrow(napi_env env);
// Throws Error(message) with code = the errno name ("EPERM"), message built as
// "<what>: <ENAME>" plus " (<hint>)" when hint is not NULL.
napi_value gst_throw_errno(napi_env env, int err, const char *what, const char *hint);
napi_value gst_throw(napi_env env, const char *code, const char *message);
const char *gst_errno_name(int err);

bool gst_arg_int32(napi_env env, napi_value v, int32_t *out);
bool gst_arg_uint32(napi_env env, napi_value v, uint32_t *out);
// Copies a JS string into buf (NUL-terminated); fails if it does not fit.
bool gst_arg_string(napi_env env, napi_value v, char *buf, size_t size);
// Data pointer and byte length of any TypedArray/DataView/ArrayBuffer view.
bool gst_arg_bytes(napi_env env, napi_value v, uint8_t **data, size_t *len);

void gst_register_tun(napi_env env, napi_value exports);
void gst_register_packet_io(napi_env env, napi_value exports);
void gst_register_sockopt(napi_env env, napi_value exports);
void gst_register_udp(napi_env env, napi_value exports);
void gst_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

#endif
