// Native UDP sockets, read and written in batches by packet_io.c (recvmmsg/sendmmsg).
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// udpOpen(address, port) -> { fd, port }: a non-blocking socket bound to address:port (port 0:
// any). An IPv6 address gives an IPv6 socket (dual-stack when the address is '::'). A wildcard
// address ('0.0.0.0', '::') also turns on packet info (see packet_io.c: replies keep the source).
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; char text[INET6_ADDRSTRLEN]; uint32_t port;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || !gst_arg_string(env, argv[0], text, sizeof text) || !gst_arg_uint32(env, argv[1], &port) || port > 65535) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: udpOpen(address, port)");
  }
  struct sockaddr_in6 name;
  memset(&name, 0, sizeof name);
  socklen_t name_len;
  int family;
  if (strchr(text, ':')) {
    family = AF_INET6;
    name.sin6_family = AF_INET6;
    name.sin6_port = htons((uint16_t)port);
    name_len = sizeof name;
    if (inet_pton(AF_INET6, text, &name.sin6_addr) != 1) family = -1;
  } else {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&name;
    family = AF_INET;
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    name_len = sizeof *v4;
    if (inet_pton(AF_INET, text, &v4->sin_addr) != 1) family = -1;
  }
  if (family < 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "invalid address %s", text);
    return gst_throw(env, "ERR_INVALID_ARG", msg);
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return gst_throw_errno(env, errno, "couldn't create UDP socket", NULL);
  if (bind(fd, (struct sockaddr *)&name, name_len) < 0) {
    int err = errno;
    close(fd);
    char what[96];
    snprintf(what, sizeof what, "couldn't bind UDP socket to %s:%u", text, port);
    return gst_throw_errno(env, err, what, err == EADDRINUSE ? "address in use" : err == EADDRNOTAVAIL ? "no such local address" : NULL);
  }
  // Bound to a wildcard address: learn each datagram's destination, so that packet_io.c can
  // reply from it (on a host with several addresses the route may pick another source).
  int one = 1;
  bool wildcard = family == AF_INET6 ? IN6_IS_ADDR_UNSPECIFIED(&name.sin6_addr)
                                     : ((struct sockaddr_in *)&name)->sin_addr.s_addr == htonl(INADDR_ANY);
  if (wildcard && (family == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one)
                                      : setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one)) < 0) {
    int err = errno;
    close(fd);
    return gst_throw_errno(env, err, "couldn't enable packet info on a wildcard UDP socket", NULL);
  }
  name_len = sizeof name;
  getsockname(fd, (struct sockaddr *)&name, &name_len);
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_named_property(env, result, "fd", v));
  CHECK(napi_create_uint32(env, ntohs(name.sin6_port), &v));  // same offset in sockaddr_in
  CHECK(napi_set_named_property(env, result, "port", v));
  return result;
}

void gst_register_udp(napi_env env, napi_value exports) {
  gst_export(env, exports, "udpOpen", udp_open);
}
