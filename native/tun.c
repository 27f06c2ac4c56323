// TUN device lifecycle: open (TUNSETIFF), MTU, up/down (ioctl), addresses (rtnetlink), close.
#define _GNU_SOURCE
#include "common.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

// From <net/if.h>, which clashes with <linux/if.h>.
extern unsigned int if_nametoindex(const char *ifname);

static const char *privilege_hint(int err) {
  return err == EPERM || err == EACCES ? "needs CAP_NET_ADMIN" : NULL;
}

// Attaches fd to the device with IFF_VNET_HDR and asks for checksum and TCP segmentation
// offload; false (errno set) when the kernel refuses either.
static bool attach_offloaded(int fd, struct ifreq *ifr) {
  ifr->ifr_flags |= IFF_VNET_HDR;
  if (ioctl(fd, TUNSETIFF, ifr) < 0) return false;
  return ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) == 0;
}

// tunOpen(name: string, multiQueue: boolean, blocking?: boolean, offload?: boolean) -> { fd, name,
// offload }; name '' lets the kernel choose. The fd is non-blocking unless asked (blocking is for
// fs-stream baselines). With offload the device is attached with IFF_VNET_HDR and TSO (see
// native/offload.c); `offload` says whether the kernel agreed (otherwise a plain TUN is opened).
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4]; bool blocking = false, offload = false;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ] = { 0 };
  bool multi_queue = false;
  if (argc < 2 || !gst_arg_string(env, argv[0], name, sizeof name)) return gst_throw(env, "ERR_INVALID_ARG", "TUN name must be a string of at most 15 bytes");
  CHECK(napi_get_value_bool(env, argv[1], &multi_queue));
  if (argc >= 3) CHECK(napi_get_value_bool(env, argv[2], &blocking));
  if (argc >= 4) CHECK(napi_get_value_bool(env, argv[3], &offload));

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (blocking ? 0 : O_NONBLOCK));
  if (fd < 0) {
    int err = errno;
    return gst_throw_errno(env, err, "couldn't open /dev/net/tun", err == ENOENT || err == ENODEV ? "no TUN support in this kernel or container" : privilege_hint(err));
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0);
  memcpy(ifr.ifr_name, name, strlen(name));
  if (offload) {
    struct ifreq tried = ifr;
    if (attach_offloaded(fd, &tried)) ifr = tried;
    else {
      // Fall back to a plain TUN on a fresh fd (the flags of an attached fd cannot be undone).
      offload = false;
      close(fd);
      fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (blocking ? 0 : O_NONBLOCK));
      if (fd < 0) return gst_throw_errno(env, errno, "couldn't open /dev/net/tun", NULL);
    }
  }
  if (!offload && ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    char what[64];
    snprintf(what, sizeof what, "couldn't attach TUN device %s", name[0] ? name : "(any)");
    return gst_throw_errno(env, err, what, err == EBUSY ? "in use by another process, or multi-queue mismatch" : privilege_hint(err));
  }
  napi_value result, v;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_named_property(env, result, "fd", v));
  CHECK(napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v));
  CHECK(napi_set_named_property(env, result, "name", v));
  CHECK(napi_get_boolean(env, offload, &v));
  CHECK(napi_set_named_property(env, result, "offload", v));
  return result;
}

static napi_value tun_close(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !gst_arg_int32(env, argv[0], &fd)) return gst_throw(env, "ERR_INVALID_ARG", "fd must be an integer");
  if (close(fd) < 0 && errno != EINTR) return gst_throw_errno(env, errno, "couldn't close TUN fd", NULL);
  return NULL;
}

// Runs one interface ioctl on a throwaway socket; returns 0 or errno.
static int if_ioctl(unsigned long request, struct ifreq *ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  int rc = ioctl(s, request, ifr) < 0 ? errno : 0;
  close(s);
  return rc;
}

// tunSetMtu(name, mtuBytes)
static napi_value tun_set_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; struct ifreq ifr; int32_t mtu;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  memset(&ifr, 0, sizeof ifr);
  if (argc < 2 || !gst_arg_string(env, argv[0], ifr.ifr_name, IFNAMSIZ) || !gst_arg_int32(env, argv[1], &mtu)) return gst_throw(env, "ERR_INVALID_ARG", "usage: tunSetMtu(name, mtuBytes)");
  ifr.ifr_mtu = mtu;
  int err = if_ioctl(SIOCSIFMTU, &ifr);
  if (err) {
    char what[96];
    snprintf(what, sizeof what, "couldn't set MTU %d on %s", mtu, ifr.ifr_name);
    return gst_throw_errno(env, err, what, privilege_hint(err));
  }
  return NULL;
}

// tunSetUp(name, up: boolean)
static napi_value tun_set_up(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2]; struct ifreq ifr; bool up;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  memset(&ifr, 0, sizeof ifr);
  if (argc < 2 || !gst_arg_string(env, argv[0], ifr.ifr_name, IFNAMSIZ)) return gst_throw(env, "ERR_INVALID_ARG", "usage: tunSetUp(name, up)");
  CHECK(napi_get_value_bool(env, argv[1], &up));
  int err = if_ioctl(SIOCGIFFLAGS, &ifr);
  if (!err) {
    if (up) ifr.ifr_flags |= IFF_UP; else ifr.ifr_flags &= ~IFF_UP;
    err = if_ioctl(SIOCSIFFLAGS, &ifr);
  }
  if (err) {
    char what[96];
    snprintf(what, sizeof what, "couldn't bring %s %s", ifr.ifr_name, up ? "up" : "down");
    return gst_throw_errno(env, err, what, privilege_hint(err));
  }
  return NULL;
}

// Sends one RTM_NEWADDR and waits for the kernel's ack; returns 0 or errno.
static int netlink_add_address(int ifindex, int family, const void *addr, int prefix_len) {
  struct {
    struct nlmsghdr nh;
    struct ifaddrmsg ifa;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  size_t addr_len = family == AF_INET ? 4 : 16;
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
  req.nh.nlmsg_type = RTM_NEWADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
  req.nh.nlmsg_seq = 1;
  req.ifa.ifa_family = family;
  req.ifa.ifa_prefixlen = prefix_len;
  req.ifa.ifa_index = ifindex;
  int types[2] = { IFA_LOCAL, IFA_ADDRESS };
  for (int i = 0; i < 2; i++) {
    struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
    rta->rta_type = types[i];
    rta->rta_len = RTA_LENGTH(addr_len);
    memcpy(RTA_DATA(rta), addr, addr_len);
    req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (s < 0) return errno;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  int err = 0;
  if (sendto(s, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) err = errno;
  else {
    char buf[4096];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    if (n < 0) err = errno;
    else {
      struct nlmsghdr *nh = (struct nlmsghdr *)buf;
      if (NLMSG_OK(nh, (size_t)n) && nh->nlmsg_type == NLMSG_ERROR) err = -((struct nlmsgerr *)NLMSG_DATA(nh))->error;
    }
  }
  close(s);
  return err;
}

// tunAddAddress(name, address, prefixLen): IPv4 or IPv6, by the address' syntax.
static napi_value tun_add_address(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3]; char name[IFNAMSIZ], text[INET6_ADDRSTRLEN]; int32_t prefix_len;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3 || !gst_arg_string(env, argv[0], name, sizeof name) || !gst_arg_string(env, argv[1], text, sizeof text) || !gst_arg_int32(env, argv[2], &prefix_len)) {
    return gst_throw(env, "ERR_INVALID_ARG", "usage: tunAddAddress(name, address, prefixLen)");
  }
  unsigned char addr[16];
  int family = strchr(text, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(family, text, addr) != 1 || prefix_len < 0 || prefix_len > (family == AF_INET ? 32 : 128)) {
    char msg[128];
    snprintf(msg, sizeof msg, "invalid address %s/%d", text, prefix_len);
    return gst_throw(env, "ERR_INVALID_ARG", msg);
  }
  int ifindex = (int)if_nametoindex(name);
  int err = ifindex ? netlink_add_address(ifindex, family, addr, prefix_len) : errno;
  if (err) {
    char what[128];
    snprintf(what, sizeof what, "couldn't add address %s/%d to %s", text, prefix_len, name);
    return gst_throw_errno(env, err, what, privilege_hint(err));
  }
  return NULL;
}

void gst_register_tun(napi_env env, napi_value exports) {
  gst_export(env, exports, "tunOpen", tun_open);
  gst_export(env, exports, "tunClose", tun_close);
  gst_export(env, exports, "tunSetMtu", tun_set_mtu);
  gst_export(env, exports, "tunSetUp", tun_set_up);
  gst_export(env, exports, "tunAddAddress", tun_add_address);
}
