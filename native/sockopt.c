// Socket options Node does not expose, applied to the fd of an existing net.Socket or dgram socket.
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static int socket_domain(int fd) {
  int domain = 0; socklen_t len = sizeof domain;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ? -1 : domain;
}

static napi_value set_int_option(napi_env env, napi_callback_info info, int level, int option, const char *what) {
  size_t argc = 2; napi_value argv[2]; int32_t fd, value;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !gst_arg_int32(env, argv[0], &fd) || !gst_arg_int32(env, argv[1], &value)) return gst_throw(env, "ERR_INVALID_ARG", "usage: (fd, value)");
  if (setsockopt(fd, level, option, &value, sizeof value) < 0) {
    int err = errno;
    char msg[96];
    snprintf(msg, sizeof msg, "couldn't set %s=%d on fd %d", what, value, fd);
    return gst_throw_errno(env, err, msg, err == EPERM ? "needs CAP_NET_ADMIN" : NULL);
  }
  return NULL;
}

// setMtuDiscover(fd, mode): mode is IP_PMTUDISC_* (0 dont, 1 want, 2 do, 3 probe); picks v4/v6 by the socket.
static napi_value set_mtu_discover(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; int32_t fd, mode;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !gst_arg_int32(env, argv[0], &fd) || !gst_arg_int32(env, argv[1], &mode)) return gst_throw(env, "ERR_INVALID_ARG", "usage: setMtuDiscover(fd, mode)");
  int domain = socket_domain(fd);
  int rc = domain == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &mode, sizeof mode)
                              : setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode);
  if (rc < 0) return gst_throw_errno(env, errno, "couldn't set path MTU discovery mode", NULL);
  // A dual-stack v6 socket also sends IPv4-mapped traffic, which follows the IPv4 option.
  if (domain == AF_INET6) setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode);
  return NULL;
}

// getPathMtu(fd) -> the kernel's current path MTU of a connected socket (IP_MTU / IPV6_MTU).
static napi_value get_path_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; int32_t fd; int mtu = 0; socklen_t len = sizeof mtu;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !gst_arg_int32(env, argv[0], &fd)) return gst_throw(env, "ERR_INVALID_ARG", "usage: getPathMtu(fd)");
  int rc = socket_domain(fd) == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len) : getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len);
  if (rc < 0) return gst_throw_errno(env, errno, "couldn't read path MTU", errno == ENOTCONN ? "socket is not connected" : NULL);
  napi_value result;
  CHECK(napi_create_int32(env, mtu, &result));
  return result;
}

static napi_value set_mark(napi_env env, napi_callback_info info) {
  return set_int_option(env, info, SOL_SOCKET, SO_MARK, "SO_MARK");
}

static napi_value set_notsent_lowat(napi_env env, napi_callback_info info) {
  return set_int_option(env, info, IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT");
}

// setBufferSize(fd, receive: boolean, bytes): SO_RCVBUFFORCE/SO_SNDBUFFORCE past the sysctl
// limits when privileged, else SO_RCVBUF/SO_SNDBUF (capped by net.core.[rw]mem_max).
static napi_value set_buffer_size(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3]; int32_t fd, bytes; bool receive;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !gst_arg_int32(env, argv[0], &fd) || napi_get_value_bool(env, argv[1], &receive) != napi_ok || !gst_arg_int32(env, argv[2], &bytes)) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: setBufferSize(fd, receive, bytes)");
  }
  if (setsockopt(fd, SOL_SOCKET, receive ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &bytes, sizeof bytes) < 0 &&
      setsockopt(fd, SOL_SOCKET, receive ? SO_RCVBUF : SO_SNDBUF, &bytes, sizeof bytes) < 0) {
    return gst_throw_errno(env, errno, receive ? "couldn't set SO_RCVBUF" : "couldn't set SO_SNDBUF", NULL);
  }
  int actual = 0; socklen_t len = sizeof actual;
  getsockopt(fd, SOL_SOCKET, receive ? SO_RCVBUF : SO_SNDBUF, &actual, &len);
  napi_value result;
  CHECK(napi_create_int32(env, actual, &result));
  return result;
}

// Sets a socket option whose value is a name (fd, name of at most 15 bytes). `what` is a format for
// the error's message, given the name and the fd; `hint` says what to check for an errno.
static napi_value set_name_option(napi_env env, napi_callback_info info, int level, int option,
                                  const char *usage, const char *what, const char *(*hint)(int err)) {
  size_t argc = 2; napi_value argv[2]; int32_t fd; char name[16];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !gst_arg_int32(env, argv[0], &fd) || !gst_arg_string(env, argv[1], name, sizeof name)) return gst_throw(env, "ERR_INVALID_ARG", usage);
  if (setsockopt(fd, level, option, name, (socklen_t)strlen(name)) < 0) {
    int err = errno;
    char msg[96];
    snprintf(msg, sizeof msg, what, name, fd);
    return gst_throw_errno(env, err, msg, hint(err));
  }
  return NULL;
}

static const char *device_hint(int err) {
  return err == EPERM ? "needs CAP_NET_RAW" : err == ENODEV ? "no such device" : NULL;
}

// bindToDevice(fd, name): '' removes the binding.
static napi_value bind_to_device(napi_env env, napi_callback_info info) {
  return set_name_option(env, info, SOL_SOCKET, SO_BINDTODEVICE, "usage: bindToDevice(fd, name of at most 15 bytes)",
                         "couldn't bind socket to device %s", device_hint);
}

static const char *congestion_hint(int err) {
  return err == ENOENT ? "not in net.ipv4.tcp_available_congestion_control"
    : err == EPERM ? "not in net.ipv4.tcp_allowed_congestion_control (or needs CAP_NET_ADMIN)" : NULL;
}

// setCongestionControl(fd, name): TCP_CONGESTION, e.g. "cubic". Unprivileged callers may pick only
// from net.ipv4.tcp_allowed_congestion_control.
static napi_value set_congestion_control(napi_env env, napi_callback_info info) {
  return set_name_option(env, info, IPPROTO_TCP, TCP_CONGESTION, "usage: setCongestionControl(fd, name of at most 15 bytes)",
                         "couldn't set TCP congestion control %s on fd %d", congestion_hint);
}

// getCongestionControl(fd) -> the algorithm the TCP socket uses.
static napi_value get_congestion_control(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; int32_t fd; char name[16]; socklen_t len = sizeof name;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !gst_arg_int32(env, argv[0], &fd)) return gst_throw(env, "ERR_INVALID_ARG", "usage: getCongestionControl(fd)");
  memset(name, 0, sizeof name);
  if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name, &len) < 0) return gst_throw_errno(env, errno, "couldn't read TCP congestion control", NULL);
  napi_value result;
  CHECK(napi_create_string_utf8(env, name, strnlen(name, sizeof name), &result));
  return result;
}

// The TCP_INFO fields we report, in the order of TCP_INFO_FIELDS in src/native/socket-options.ts.
#define TCP_INFO_FIELDS(X) \
  X(state, tcpi_state) X(caState, tcpi_ca_state) X(rttUs, tcpi_rtt) X(rttVarUs, tcpi_rttvar) X(minRttUs, tcpi_min_rtt) \
  X(rtoUs, tcpi_rto) X(sndMssBytes, tcpi_snd_mss) X(pmtuBytes, tcpi_pmtu) X(sndCwndPkts, tcpi_snd_cwnd) \
  X(sndSsthreshPkts, tcpi_snd_ssthresh) X(unackedPkts, tcpi_unacked) X(lostPkts, tcpi_lost) X(retransPkts, tcpi_retrans) \
  X(totalRetransPkts, tcpi_total_retrans) X(notsentBytes, tcpi_notsent_bytes) X(deliveryRateBytesPerSec, tcpi_delivery_rate) \
  X(pacingRateBytesPerSec, tcpi_pacing_rate) X(bytesAcked, tcpi_bytes_acked) X(bytesSent, tcpi_bytes_sent) \
  X(bytesRetrans, tcpi_bytes_retrans) X(deliveredPkts, tcpi_delivered) X(busyTimeUs, tcpi_busy_time) \
  X(sndBufLimitedUs, tcpi_sndbuf_limited) X(rwndLimitedUs, tcpi_rwnd_limited)

#define COUNT_FIELD(js, c) + 1
enum { TCP_INFO_COUNT = 0 TCP_INFO_FIELDS(COUNT_FIELD) };

// getTcpInfo(fd, out?: Float64Array) -> object, or fills out (no allocation) and returns undefined.
static napi_value get_tcp_info(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !gst_arg_int32(env, argv[0], &fd)) return gst_throw(env, "ERR_INVALID_ARG", "usage: getTcpInfo(fd, out?)");
  struct tcp_info ti;
  memset(&ti, 0, sizeof ti);
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return gst_throw_errno(env, errno, "couldn't read TCP_INFO", NULL);
  napi_valuetype out_type = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &out_type);
  if (out_type == napi_object) {
    uint8_t *bytes; size_t bytes_len;
    if (!gst_arg_bytes(env, argv[1], &bytes, &bytes_len) || bytes_len < TCP_INFO_COUNT * sizeof(double) || ((uintptr_t)bytes & 7)) {
      return gst_throw(env, "ERR_INVALID_ARG", "getTcpInfo: out must be a Float64Array of TCP_INFO_FIELDS.length");
    }
    double *out = (double *)bytes;
    size_t i = 0;
#define FILL_FIELD(js, c) out[i++] = (double)ti.c;
    TCP_INFO_FIELDS(FILL_FIELD)
    return NULL;
  }
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
#define SET_FIELD(js, c) CHECK(napi_create_double(env, (double)ti.c, &v)); CHECK(napi_set_named_property(env, result, #js, v));
  TCP_INFO_FIELDS(SET_FIELD)
  return result;
}

void gst_register_sockopt(napi_env env, napi_value exports) {
  gst_export(env, exports, "setMtuDiscover", set_mtu_discover);
  gst_export(env, exports, "getPathMtu", get_path_mtu);
  gst_export(env, exports, "setCongestionControl", set_congestion_control);
  gst_export(env, exports, "getCongestionControl", get_congestion_control);
  gst_export(env, exports, "setMark", set_mark);
  gst_export(env, exports, "setNotsentLowat", set_notsent_lowat);
  gst_export(env, exports, "bindToDevice", bind_to_device);
  gst_export(env, exports, "setBufferSize", set_buffer_size);
  gst_export(env, exports, "getTcpInfo", get_tcp_info);
}
