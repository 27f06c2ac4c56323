// wire: the test lab's link emulator. The kernel here has no netem, so each emulated link is a
// pair of TUN devices (one in the client namespace, one in the server namespace) and this
// program copies IP packets between them. Per direction, a packet goes through:
//
//   cut -> random loss -> droptail queue (packets, bytes) -> rate (serializer) -> delay (+jitter) -> out
//
// The queue and rate stage is a virtual serializer: a packet finishes transmission at
// max(now, previous finish) + bits/rate, which gives exact long-run rates without a timer per
// token. It then waits out its one-way delay in a list ordered by delivery time (jitter never
// reorders unless asked). Times are CLOCK_MONOTONIC nanoseconds; ppoll sleeps to the next
// delivery with nanosecond resolution, and SCHED_FIFO keeps wakeups on time under load.
//
// usage: wire [--seed N] [--slots N] CLIENT_NETNS:CLIENT_TUN:SERVER_NETNS:SERVER_TUN ...
// Commands on stdin, one reply line each on stdout (driven by test/lab/lab.ts):
//   set LINK [dir=up|down|both] [delay_ms=F] [jitter_ms=F] [rate_mbit=F] [loss_pct=F]
//       [queue_pkts=N] [queue_bytes=N] [reorder=0|1]           -> ok
//   cut LINK [AT_NS] | restore LINK [AT_NS]                      -> ok
//   stats LINK                                                   -> {json}
//   now                                                          -> CLOCK_MONOTONIC ns
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINKS 16
#define SLOT_BYTES 2048           // our choice: lab TUN MTU is at most 1500 + headroom
#define READS_PER_WAKEUP 64       // our choice: fairness between links and directions
#define NEVER UINT64_MAX

typedef struct { uint64_t finish_ns; uint32_t bytes; } rate_entry;
typedef struct { uint64_t deliver_ns; uint32_t slot, len; } delay_entry;

typedef struct {
  uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, drop_cut, drop_loss, drop_queue, drop_overflow, write_errors, max_queue_pkts;
} dir_stats;

typedef struct {
  int in_fd, out_fd;
  double delay_ns, jitter_ns, rate_bps, loss;
  uint32_t queue_pkts;
  uint64_t queue_bytes;
  bool reorder;
  // rate stage: packets whose transmission has not finished yet (FIFO)
  rate_entry *rq;
  uint32_t rq_head, rq_count, q_pkts;
  uint64_t q_bytes, last_finish_ns;
  // delay stage: ordered by deliver_ns
  delay_entry *dq;
  uint32_t dq_head, dq_count;
  uint64_t last_deliver_ns;
  uint8_t *pool;
  uint32_t *free_slots, free_count;
  dir_stats st;
} direction;

typedef struct {
  direction dir[2];             // 0: up (client -> server), 1: down (server -> client)
  uint64_t cut_from_ns, cut_until_ns;
} link_t;

static link_t links[MAX_LINKS];
static int n_links;
static uint32_t slots = 4096;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double random_unit(void) {  // xorshift64*: fast, seedable, good enough for loss draws
  rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static void die(const char *what) {
  fprintf(stderr, "wire: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int attach_tun(const char *netns_path, const char *name, int home_ns) {
  int ns = open(netns_path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) { fprintf(stderr, "wire: couldn't open %s: %s\n", netns_path, strerror(errno)); exit(1); }
  if (setns(ns, CLONE_NEWNET) < 0) die("setns");
  close(ns);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("couldn't open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) { fprintf(stderr, "wire: couldn't attach %s in %s: %s\n", name, netns_path, strerror(errno)); exit(1); }
  if (setns(home_ns, CLONE_NEWNET) < 0) die("setns back");
  return fd;
}

static void init_direction(direction *d, int in_fd, int out_fd) {
  memset(d, 0, sizeof *d);
  d->in_fd = in_fd;
  d->out_fd = out_fd;
  d->queue_pkts = 1000;
  d->rq = calloc(slots, sizeof *d->rq);
  d->dq = calloc(slots, sizeof *d->dq);
  d->pool = malloc((size_t)slots * SLOT_BYTES);
  d->free_slots = malloc(slots * sizeof *d->free_slots);
  if (!d->rq || !d->dq || !d->pool || !d->free_slots) die("out of memory");
  for (uint32_t i = 0; i < slots; i++) d->free_slots[i] = i;
  d->free_count = slots;
}

// Retires packets whose transmission finished, so the queue limit sees only what still waits.
static void drain_rate_stage(direction *d, uint64_t now) {
  while (d->rq_count && d->rq[d->rq_head].finish_ns <= now) {
    d->q_pkts--;
    d->q_bytes -= d->rq[d->rq_head].bytes;
    d->rq_head = (d->rq_head + 1) % slots;
    d->rq_count--;
  }
}

static bool is_cut(const link_t *l, uint64_t now) {
  return now >= l->cut_from_ns && now < l->cut_until_ns;
}

static void ingress(link_t *l, direction *d, uint64_t now) {
  uint32_t slot = d->free_count ? d->free_slots[d->free_count - 1] : UINT32_MAX;
  static uint8_t scratch[SLOT_BYTES];
  uint8_t *buf = slot == UINT32_MAX ? scratch : d->pool + (size_t)slot * SLOT_BYTES;
  ssize_t n = read(d->in_fd, buf, SLOT_BYTES);
  if (n <= 0) return;
  d->st.rx_pkts++;
  d->st.rx_bytes += (uint64_t)n;
  if (is_cut(l, now)) { d->st.drop_cut++; return; }
  if (d->loss > 0 && random_unit() < d->loss) { d->st.drop_loss++; return; }
  drain_rate_stage(d, now);
  if (d->q_pkts >= d->queue_pkts || (d->queue_bytes && d->q_bytes + (uint64_t)n > d->queue_bytes)) { d->st.drop_queue++; return; }
  if (slot == UINT32_MAX || d->rq_count == slots) { d->st.drop_overflow++; return; }
  d->free_count--;

  uint64_t finish = now;
  if (d->rate_bps > 0) {
    uint64_t start = d->last_finish_ns > now ? d->last_finish_ns : now;
    finish = start + (uint64_t)((double)n * 8e9 / d->rate_bps);
    d->last_finish_ns = finish;
  }
  d->rq[(d->rq_head + d->rq_count++) % slots] = (rate_entry){ finish, (uint32_t)n };
  d->q_pkts++;
  d->q_bytes += (uint64_t)n;
  if (d->q_pkts > d->st.max_queue_pkts) d->st.max_queue_pkts = d->q_pkts;

  double delay = d->delay_ns;
  if (d->jitter_ns > 0) delay += (2 * random_unit() - 1) * d->jitter_ns;
  uint64_t deliver = finish + (uint64_t)(delay > 0 ? delay : 0);
  if (!d->reorder && deliver < d->last_deliver_ns) deliver = d->last_deliver_ns;
  if (deliver > d->last_deliver_ns) d->last_deliver_ns = deliver;
  // Insert from the tail: without reordering the new packet always goes last.
  uint32_t pos = d->dq_count;
  while (pos > 0 && d->dq[(d->dq_head + pos - 1) % slots].deliver_ns > deliver) {
    d->dq[(d->dq_head + pos) % slots] = d->dq[(d->dq_head + pos - 1) % slots];
    pos--;
  }
  d->dq[(d->dq_head + pos) % slots] = (delay_entry){ deliver, slot, (uint32_t)n };
  d->dq_count++;
}

static void egress(direction *d, uint64_t now) {
  while (d->dq_count && d->dq[d->dq_head].deliver_ns <= now) {
    delay_entry *e = &d->dq[d->dq_head];
    if (write(d->out_fd, d->pool + (size_t)e->slot * SLOT_BYTES, e->len) < 0) d->st.write_errors++;
    else { d->st.tx_pkts++; d->st.tx_bytes += e->len; }
    d->free_slots[d->free_count++] = e->slot;
    d->dq_head = (d->dq_head + 1) % slots;
    d->dq_count--;
  }
}

static void print_dir(const char *name, direction *d, uint64_t now) {
  drain_rate_stage(d, now);
  printf("\"%s\":{\"rxPkts\":%" PRIu64 ",\"rxBytes\":%" PRIu64 ",\"txPkts\":%" PRIu64 ",\"txBytes\":%" PRIu64
         ",\"dropCut\":%" PRIu64 ",\"dropLoss\":%" PRIu64 ",\"dropQueue\":%" PRIu64 ",\"dropOverflow\":%" PRIu64
         ",\"writeErrors\":%" PRIu64 ",\"queuePkts\":%u,\"queueBytes\":%" PRIu64 ",\"maxQueuePkts\":%" PRIu64 ",\"inFlightPkts\":%u}",
         name, d->st.rx_pkts, d->st.rx_bytes, d->st.tx_pkts, d->st.tx_bytes, d->st.drop_cut, d->st.drop_loss, d->st.drop_queue,
         d->st.drop_overflow, d->st.write_errors, d->q_pkts, d->q_bytes, d->st.max_queue_pkts, d->dq_count);
}

static bool set_param(direction *d, const char *key, double v) {
  if (!strcmp(key, "delay_ms")) d->delay_ns = v * 1e6;
  else if (!strcmp(key, "jitter_ms")) d->jitter_ns = v * 1e6;
  else if (!strcmp(key, "rate_mbit")) d->rate_bps = v * 1e6;
  else if (!strcmp(key, "loss_pct")) d->loss = v / 100;
  else if (!strcmp(key, "queue_pkts")) d->queue_pkts = (uint32_t)v;
  else if (!strcmp(key, "queue_bytes")) d->queue_bytes = (uint64_t)v;
  else if (!strcmp(key, "reorder")) d->reorder = v != 0;
  else return false;
  return true;
}

static void command(char *line) {
  char *save = NULL, *verb = strtok_r(line, " \t", &save);
  if (!verb) return;
  uint64_t now = now_ns();
  if (!strcmp(verb, "now")) { printf("%" PRIu64 "\n", now); return; }
  char *arg = strtok_r(NULL, " \t", &save);
  int index = arg ? atoi(arg) : -1;
  if (index < 0 || index >= n_links) { printf("err no such link\n"); return; }
  link_t *l = &links[index];
  char *at_text = strtok_r(NULL, " \t", &save);
  if (!strcmp(verb, "cut") || !strcmp(verb, "restore")) {
    uint64_t at = at_text ? strtoull(at_text, NULL, 10) : now;
    if (verb[0] == 'c') { l->cut_from_ns = at; l->cut_until_ns = NEVER; }
    else l->cut_until_ns = at;
    printf("ok\n");
  } else if (!strcmp(verb, "stats")) {
    printf("{\"link\":%d,\"cut\":%s,\"nowNs\":%" PRIu64 ",", index, is_cut(l, now) ? "true" : "false", now);
    print_dir("up", &l->dir[0], now);
    putchar(',');
    print_dir("down", &l->dir[1], now);
    printf("}\n");
  } else if (!strcmp(verb, "set")) {
    bool up = true, down = true;
    for (char *kv = at_text; kv; kv = strtok_r(NULL, " \t", &save)) {
      char *eq = strchr(kv, '=');
      if (!eq) { printf("err expected key=value, got %s\n", kv); return; }
      *eq = 0;
      if (!strcmp(kv, "dir")) { up = strcmp(eq + 1, "down") != 0; down = strcmp(eq + 1, "up") != 0; continue; }
      double v = strtod(eq + 1, NULL);
      if ((up && !set_param(&l->dir[0], kv, v)) | (down && !set_param(&l->dir[1], kv, v))) { printf("err unknown parameter %s\n", kv); return; }
    }
    printf("ok\n");
  } else printf("err unknown command %s\n", verb);
}

int main(int argc, char **argv) {
  int first = 1;
  for (; first + 1 < argc && !strncmp(argv[first], "--", 2); first += 2) {
    if (!strcmp(argv[first], "--seed")) rng_state = strtoull(argv[first + 1], NULL, 10) | 1;
    else if (!strcmp(argv[first], "--slots")) slots = (uint32_t)strtoul(argv[first + 1], NULL, 10);
  }
  if (first >= argc || argc - first > MAX_LINKS) { fprintf(stderr, "usage: wire [--seed N] [--slots N] CNS:CTUN:SNS:STUN ...\n"); return 2; }
  signal(SIGPIPE, SIG_IGN);
  int home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home_ns < 0) die("couldn't open /proc/self/ns/net");
  for (int i = first; i < argc; i++) {
    char *parts[4], *save = NULL, *spec = argv[i];
    for (int p = 0; p < 4; p++, spec = NULL) parts[p] = strtok_r(spec, ":", &save);
    if (!parts[3]) { fprintf(stderr, "wire: bad link spec %s\n", argv[i]); return 2; }
    int client_fd = attach_tun(parts[0], parts[1], home_ns), server_fd = attach_tun(parts[2], parts[3], home_ns);
    link_t *l = &links[n_links++];
    init_direction(&l->dir[0], client_fd, server_fd);
    init_direction(&l->dir[1], server_fd, client_fd);
    l->cut_from_ns = l->cut_until_ns = 0;
  }
  // Real-time priority and locked memory keep delivery on time; without them we still run.
  struct sched_param sp = { .sched_priority = 50 };
  bool realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0 || sched_getscheduler(0) == SCHED_FIFO;
  mlockall(MCL_CURRENT | MCL_FUTURE);
  prctl(PR_SET_TIMERSLACK, 1UL);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ready links=%d realtime=%d\n", n_links, realtime);

  struct pollfd fds[1 + 2 * MAX_LINKS];
  char input[8192];
  size_t input_len = 0;
  for (;;) {
    uint64_t now = now_ns(), next = NEVER;
    for (int i = 0; i < n_links; i++) {
      for (int k = 0; k < 2; k++) {
        direction *d = &links[i].dir[k];
        egress(d, now);
        if (d->dq_count && d->dq[d->dq_head].deliver_ns < next) next = d->dq[d->dq_head].deliver_ns;
      }
    }
    fds[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
    for (int i = 0; i < n_links; i++) {
      fds[1 + 2 * i] = (struct pollfd){ .fd = links[i].dir[0].in_fd, .events = POLLIN };
      fds[2 + 2 * i] = (struct pollfd){ .fd = links[i].dir[1].in_fd, .events = POLLIN };
    }
    struct timespec timeout, *tp = NULL;
    if (next != NEVER) {
      uint64_t wait = next > now ? next - now : 0;
      timeout = (struct timespec){ (time_t)(wait / 1000000000ULL), (long)(wait % 1000000000ULL) };
      tp = &timeout;
    }
    if (ppoll(fds, 1 + 2 * n_links, tp, NULL) < 0) {
      if (errno == EINTR) continue;
      die("ppoll");
    }
    if (fds[0].revents) {
      ssize_t n = read(0, input + input_len, sizeof input - input_len - 1);
      if (n <= 0) return 0;  // the driver is gone: so are we
      input_len += (size_t)n;
      char *start = input, *nl;
      while ((nl = memchr(start, '\n', input_len - (size_t)(start - input)))) {
        *nl = 0;
        command(start);
        start = nl + 1;
      }
      input_len -= (size_t)(start - input);
      memmove(input, start, input_len);
      if (input_len == sizeof input - 1) input_len = 0;  // an absurd line: drop it
    }
    for (int i = 0; i < n_links; i++) {
      for (int k = 0; k < 2; k++) {
        short revents = fds[1 + 2 * i + k].revents;
        // A TUN that went away (its namespace was deleted) would make us spin at real-time priority.
        if (revents & (POLLERR | POLLHUP | POLLNVAL)) { fprintf(stderr, "wire: link %d lost its TUN device\n", i); return 1; }
        if (!(revents & POLLIN)) continue;
        direction *d = &links[i].dir[k];
        for (int r = 0; r < READS_PER_WAKEUP; r++) {
          uint64_t before = d->st.rx_pkts;
          ingress(&links[i], d, now_ns());
          if (d->st.rx_pkts == before) break;
        }
      }
    }
  }
}
