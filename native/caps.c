// Keeping one capability across a switch to an unprivileged user (`--user`): ttt sets its TUN's
// MTU from path MTU discovery after the drop, which needs CAP_NET_ADMIN and nothing else.
//
// Linux clears the permitted and effective sets when a process's uids all become non-zero, unless
// the thread's keep-capabilities flag is set (prctl PR_SET_KEEPCAPS); the effective set is cleared
// either way and has to be raised again with capset. Both calls act on the calling thread only:
// node calls them on its main thread, which is where every privileged call of gst runs (the TUN
// ioctls are synchronous). glibc's setuid changes the uids of every thread; threads without the
// flag lose every capability, which is what we want. No ambient or inheritable capability is set,
// so a program started afterwards (an --on-event hook) gets none.
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

// capsKeepOnSetuid(keep: boolean)
static napi_value caps_keep_on_setuid(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; bool keep = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_bool(env, argv[0], &keep) != napi_ok) return gst_throw(env, "ERR_INVALID_ARG", "usage: capsKeepOnSetuid(keep)");
  if (prctl(PR_SET_KEEPCAPS, keep ? 1L : 0L, 0L, 0L, 0L) != 0) return gst_throw_errno(env, errno, "prctl(PR_SET_KEEPCAPS)", NULL);
  return NULL;
}

// capsLimit(capabilities: number[]): permitted = effective = exactly these, inheritable = none.
static napi_value caps_limit(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; bool is_array = false; uint32_t count = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) return gst_throw(env, "ERR_INVALID_ARG", "usage: capsLimit(capabilities)");
  CHECK(napi_get_array_length(env, argv[0], &count));
  struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { { 0, 0, 0 }, { 0, 0, 0 } };
  for (uint32_t i = 0; i < count; i++) {
    napi_value item; uint32_t cap;
    CHECK(napi_get_element(env, argv[0], i, &item));
    if (!gst_arg_uint32(env, item, &cap) || cap > CAP_LAST_CAP) return gst_throw(env, "ERR_INVALID_ARG", "capsLimit: not a capability number");
    data[cap / 32].permitted |= 1u << (cap % 32);
    data[cap / 32].effective |= 1u << (cap % 32);
  }
  if (syscall(SYS_capset, &header, data) != 0) return gst_throw_errno(env, errno, "capset", NULL);
  return NULL;
}

void gst_register_caps(napi_env env, napi_value exports) {
  gst_export(env, exports, "capsKeepOnSetuid", caps_keep_on_setuid);
  gst_export(env, exports, "capsLimit", caps_limit);
}
