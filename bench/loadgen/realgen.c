// realgen: a DNS load generator shaped like the traffic an authoritative server gets from
// resolvers (bench/README.md, "Realistic traffic"). It pre-generates one query stream and
// replays it over UDP to one server on 127.0.0.0/8, phase after phase, and prints one JSON
// line: per phase the answered QPS, loss, latency percentiles, its own CPU per query sent
// (getrusage; its system time includes loopback delivery into the server's socket) and the
// server's per reply received, in time or late (utime + stime of the pids given, /proc).
//
// The stream: resolvers are (source address, socket) pairs, the source set per message
// with IP_PKTINFO (all of 127.0.0.0/8 is local on lo), so one sendmmsg carries queries of
// many resolvers. Names are Zipf(1.0) over the names file; types A 75 %, AAAA 20 %, and
// 5 % fresh random labels under the zone (NXDOMAIN), relabelled on every send. ECS
// (RFC 7871 §6) on the chosen share of queries, from IPv4 /24 and IPv6 /56 subnets spread
// over the address space, each subnet behind one ECS-sending resolver; a client COOKIE
// (RFC 7873 §4.1) from half the resolvers. No (resolver, name, type, subnet) appears twice
// in the stream, and the stream is `--window` queries long (a TTL's worth at the fixed
// rate), so no tuple repeats sooner than that many queries: a resolver asks again only
// once its cached answer has expired. `--do PCT` sets the DO bit (RFC 3225) on that share
// of queries, chosen by a hash of the query's place in the stream, so the stream is the same
// query for query whatever the share (only the DO bit differs).
//
// Modes: `rate:QPS` paces sends (open loop, ppoll with a 1 ns timer slack); `max:N` keeps
// N queries in flight (closed loop). Replies are matched by (socket, ID); a query not
// answered within --timeout-ms is lost. Only 127.0.0.0/8 targets are accepted.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 64
#define BATCH 64
#define RECV_SIZE 1500
#define HIST_US 2000000 /* latency histogram: 1 µs buckets up to 2 s */
#define RING (1u << 21) /* sends remembered for timeouts: > the most sent in --timeout-ms */
#define TICK_NS 100000 /* paced mode: at most one wake-up per 100 µs */

static void die(const char *msg) {
  fprintf(stderr, "realgen: %s%s%s\n", msg, errno ? ": " : "", errno ? strerror(errno) : "");
  exit(2);
}

// ---------------------------------------------------------------- randomness

static uint64_t rng_state;
static uint64_t rnd(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double rnd01(void) { return (rnd() >> 11) * (1.0 / 9007199254740992.0); }
static uint32_t rndn(uint32_t n) { return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32); }

// ---------------------------------------------------------------- options

static struct {
  char server[64];
  int port;
  const char *names_file, *nx_zone;
  uint64_t seed;
  int addresses, sockets_n, resolvers;
  int subnets4, subnets6;
  double ecs_share, cookie_share;
  double do_pct; /* share of queries with the DO bit, in per cent */
  long window;
  int timeout_ms;
  char phases[256];
  char cpu_pids[1024];
  /* Hostile streams (bench/hostile.mjs): sources inside one /24, a type mix, repeats allowed. */
  uint32_t source_net; /* 127.x.y.0 in host order, or 0: resolvers on 127.1.0.1–127.x.y.1 */
  double mix_a, mix_aaaa; /* the NX share is the rest */
  int repeat;
} opt = {"127.0.0.1", 0, NULL, NULL, 1, 512, 4, 2048, 40000, 20000, 0.6, 0.5, 0, 1200000, 1000, "", "",
         0, 0.75, 0.20, 0};

static void parse_args(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--server")) snprintf(opt.server, sizeof opt.server, "%s", v);
    else if (!strcmp(k, "--port")) opt.port = atoi(v);
    else if (!strcmp(k, "--names")) opt.names_file = v;
    else if (!strcmp(k, "--nx-zone")) opt.nx_zone = v;
    else if (!strcmp(k, "--seed")) opt.seed = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--addresses")) opt.addresses = atoi(v);
    else if (!strcmp(k, "--sockets")) opt.sockets_n = atoi(v);
    else if (!strcmp(k, "--resolvers")) opt.resolvers = atoi(v);
    else if (!strcmp(k, "--subnets4")) opt.subnets4 = atoi(v);
    else if (!strcmp(k, "--subnets6")) opt.subnets6 = atoi(v);
    else if (!strcmp(k, "--ecs")) opt.ecs_share = atof(v);
    else if (!strcmp(k, "--cookies")) opt.cookie_share = atof(v);
    else if (!strcmp(k, "--do")) opt.do_pct = atof(v);
    else if (!strcmp(k, "--window")) opt.window = atol(v);
    else if (!strcmp(k, "--timeout-ms")) opt.timeout_ms = atoi(v);
    else if (!strcmp(k, "--phases")) snprintf(opt.phases, sizeof opt.phases, "%s", v);
    else if (!strcmp(k, "--cpu-pids")) snprintf(opt.cpu_pids, sizeof opt.cpu_pids, "%s", v);
    else if (!strcmp(k, "--source-net")) {
      struct in_addr in;
      char text[32];
      snprintf(text, sizeof text, "%s.0", v);
      if (inet_pton(AF_INET, text, &in) != 1 || (ntohl(in.s_addr) >> 24) != 127)
        die("--source-net: the first three octets of a /24 in 127.0.0.0/8, e.g. 127.0.2");
      opt.source_net = ntohl(in.s_addr);
    } else if (!strcmp(k, "--mix")) {
      if (sscanf(v, "%lf,%lf", &opt.mix_a, &opt.mix_aaaa) != 2 || opt.mix_a < 0 || opt.mix_aaaa < 0 ||
          opt.mix_a + opt.mix_aaaa > 1)
        die("--mix: A,AAAA shares (the NX share is the rest), e.g. 0.75,0.2");
    } else if (!strcmp(k, "--repeat")) {
      opt.repeat = atoi(v);
    }
    else {
      fprintf(stderr, "realgen: unknown option %s\n", k);
      exit(2);
    }
  }
  if (!opt.port || !opt.names_file || !opt.nx_zone || !opt.phases[0])
    die("usage: realgen --port P --names FILE --nx-zone ZONE --phases name:rate:QPS:SEC,name:max:INFLIGHT:SEC,...");
  if (opt.sockets_n < 1 || opt.sockets_n > MAX_SOCKETS) die("--sockets: 1..64");
  if (opt.addresses < 1 || opt.addresses > 65000) die("--addresses: 1..65000");
  if (opt.source_net && opt.addresses > 254) die("--addresses: at most 254 inside --source-net");
  if (opt.resolvers < 2 || opt.resolvers > opt.addresses * opt.sockets_n || opt.resolvers > 65535)
    die("--resolvers: at most addresses × sockets and 65535");
  if (opt.subnets4 + opt.subnets6 < 1 || opt.subnets4 + opt.subnets6 > 1000000)
    die("--subnets4 + --subnets6: 1..1,000,000");
  if (opt.window < 1000 || opt.window > 20000000) die("--window: 1,000..20,000,000");
  if (!(opt.do_pct >= 0 && opt.do_pct <= 100)) die("--do: a percentage, 0..100");
}

// ---------------------------------------------------------------- the stream

typedef struct {
  uint8_t len;
  uint8_t wire[255];
} Name;

typedef struct {
  uint32_t off;   /* packet in the arena */
  uint16_t len;
  uint16_t resolver;
  uint16_t nx_label; /* offset of the random label in the packet, 0 if none */
  uint8_t type;      /* 1 A, 2 AAAA, 3 NX */
  uint8_t ecs;
  uint8_t dnssec;  /* DO bit set */
  uint32_t subnet; /* index + 1, 0 without ECS */
} Query;

static Name *names;
static int n_names;
static Name nx_zone;
static double *zipf_cdf;
static uint32_t *zipf_perm;
static uint8_t (*subnet_v4)[3];
static uint8_t (*subnet_v6)[7];
static int n_subnets;
static uint8_t *res_cookie; /* 8 bytes per resolver, all zero: no cookie */
static uint8_t *res_has_cookie;
static uint16_t *ecs_res, *plain_res;
static int n_ecs_res, n_plain_res;
static Query *stream;
static uint8_t *arena;
static size_t arena_len;

static int to_wire(const char *text, Name *out) {
  size_t n = strlen(text), o = 0;
  while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) n--;
  if (n && text[n - 1] == '.') n--;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || text[i] == '.') {
      size_t l = i - start;
      if (l == 0 || l > 63 || o + l + 2 > 255) return -1;
      out->wire[o++] = (uint8_t)l;
      memcpy(out->wire + o, text + start, l);
      o += l;
      start = i + 1;
    }
  }
  out->wire[o++] = 0;
  out->len = (uint8_t)o;
  return 0;
}

static void load_names(void) {
  FILE *f = fopen(opt.names_file, "r");
  if (!f) die("names file");
  int cap = 1024;
  names = malloc(sizeof(Name) * cap);
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '\n' || line[0] == '#') continue;
    if (n_names == cap) names = realloc(names, sizeof(Name) * (cap *= 2));
    if (to_wire(line, &names[n_names]) == 0) n_names++;
  }
  fclose(f);
  if (n_names < 1 || n_names >= (1 << 20)) die("names file: 1..1,048,575 names");
  if (to_wire(opt.nx_zone, &nx_zone) != 0 || nx_zone.len > 200) die("--nx-zone");
  /* Zipf(1.0): P(rank k) ∝ 1/k, ranks given to the names in a random order. */
  zipf_cdf = malloc(sizeof(double) * n_names);
  zipf_perm = malloc(sizeof(uint32_t) * n_names);
  double sum = 0;
  for (int k = 0; k < n_names; k++) zipf_cdf[k] = (sum += 1.0 / (k + 1));
  for (int k = 0; k < n_names; k++) zipf_cdf[k] /= sum, zipf_perm[k] = k;
  for (int k = n_names - 1; k > 0; k--) {
    uint32_t j = rndn(k + 1), t = zipf_perm[k];
    zipf_perm[k] = zipf_perm[j], zipf_perm[j] = t;
  }
}

static int zipf_rank(void) {
  double u = rnd01();
  int lo = 0, hi = n_names - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (zipf_cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void make_population(void) {
  n_subnets = opt.subnets4 + opt.subnets6;
  subnet_v4 = malloc(3 * (size_t)(opt.subnets4 + 1));
  subnet_v6 = malloc(7 * (size_t)(opt.subnets6 + 1));
  /* IPv4 /24s: an odd multiplier permutes the 2^24 /24s, so they are distinct and spread;
     0/8, 10/8, 127/8 and 224/3 are skipped. */
  uint32_t j = (uint32_t)rnd();
  for (int k = 0; k < opt.subnets4;) {
    uint32_t p = (j++ * 2654435761u) & 0xffffff, a = p >> 16;
    if (a == 0 || a == 10 || a == 127 || a >= 224) continue;
    subnet_v4[k][0] = (uint8_t)a, subnet_v4[k][1] = (uint8_t)(p >> 8), subnet_v4[k][2] = (uint8_t)p;
    k++;
  }
  /* IPv6 /56s inside 2000::/3: 53 random bits, distinct with overwhelming probability. */
  for (int k = 0; k < opt.subnets6; k++) {
    uint64_t r = rnd();
    subnet_v6[k][0] = 0x20 | (uint8_t)(r & 0x1f);
    for (int b = 1; b < 7; b++) subnet_v6[k][b] = (uint8_t)(r >> (8 * b));
  }
  res_cookie = calloc(opt.resolvers, 8);
  res_has_cookie = calloc(opt.resolvers, 1);
  ecs_res = malloc(2 * opt.resolvers);
  plain_res = malloc(2 * opt.resolvers);
  /* The ECS share of resolvers is the ECS share of queries: each query picks its kind first. */
  int want_ecs = (int)(opt.resolvers * opt.ecs_share + 0.5);
  if (opt.ecs_share > 0 && want_ecs < 1) want_ecs = 1;
  if (opt.ecs_share < 1 && want_ecs > opt.resolvers - 1) want_ecs = opt.resolvers - 1;
  for (int r = 0; r < opt.resolvers; r++) {
    if (rnd01() < opt.cookie_share) {
      res_has_cookie[r] = 1;
      uint64_t c = rnd();
      memcpy(res_cookie + 8 * r, &c, 8);
    }
  }
  uint16_t *order = malloc(2 * opt.resolvers);
  for (int r = 0; r < opt.resolvers; r++) order[r] = (uint16_t)r;
  for (int r = opt.resolvers - 1; r > 0; r--) {
    uint32_t k = rndn(r + 1);
    uint16_t t = order[r];
    order[r] = order[k], order[k] = t;
  }
  for (int r = 0; r < opt.resolvers; r++) {
    if (r < want_ecs) ecs_res[n_ecs_res++] = order[r];
    else plain_res[n_plain_res++] = order[r];
  }
  free(order);
}

/* Seen tuples: open addressing over nonzero 64-bit keys. */
static uint64_t *seen;
static uint64_t seen_mask;
static int seen_insert(uint64_t key) {
  uint64_t h = key * 0x9e3779b97f4a7c15ull;
  for (uint64_t i = h >> 20;; i++) {
    uint64_t *s = &seen[i & seen_mask];
    if (*s == key) return 0;
    if (*s == 0) {
      *s = key;
      return 1;
    }
  }
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

/* One query's bytes: header (ID set at send, RD clear as resolvers send to authorities),
   question, and an OPT RR (UDP size 1232, DO as chosen) with ECS and COOKIE as chosen. */
static uint16_t encode(uint8_t *p, const Query *q, const Name *name, uint16_t *nx_label) {
  size_t o = 12;
  memset(p, 0, 12);
  put16(p + 4, 1);
  put16(p + 10, 1);
  if (q->type == 3) {
    *nx_label = (uint16_t)(o + 1);
    p[o++] = 12;
    for (int i = 0; i < 12; i++) p[o++] = 'x';
    memcpy(p + o, nx_zone.wire, nx_zone.len);
    o += nx_zone.len;
  } else {
    *nx_label = 0;
    memcpy(p + o, name->wire, name->len);
    o += name->len;
  }
  put16(p + o, q->type == 2 ? 28 : 1), o += 2;
  put16(p + o, 1), o += 2;
  p[o++] = 0;
  put16(p + o, 41), o += 2;
  put16(p + o, 1232), o += 2;
  memset(p + o, 0, 4);
  if (q->dnssec) p[o + 2] = 0x80; /* extended RCODE, version, then the flags: DO is the top bit */
  o += 4;
  size_t rdlen_at = o;
  o += 2;
  if (q->subnet) {
    uint32_t s = q->subnet - 1;
    int v6 = s >= (uint32_t)opt.subnets4;
    int bytes = v6 ? 7 : 3;
    put16(p + o, 8), put16(p + o + 2, 4 + bytes), o += 4;
    put16(p + o, v6 ? 2 : 1), p[o + 2] = v6 ? 56 : 24, p[o + 3] = 0, o += 4;
    memcpy(p + o, v6 ? subnet_v6[s - opt.subnets4] : subnet_v4[s], bytes), o += bytes;
  }
  if (res_has_cookie[q->resolver]) {
    put16(p + o, 10), put16(p + o + 2, 8), o += 4;
    memcpy(p + o, res_cookie + 8 * q->resolver, 8), o += 8;
  }
  put16(p + rdlen_at, (unsigned)(o - rdlen_at - 2));
  return (uint16_t)o;
}

static struct {
  long queries, ecs, cookies, dnssec, a, aaaa, nx, redraws, distinct_names, distinct_subnets;
  double top10_share;
} gen_stats;

static void make_stream(void) {
  long L = opt.window;
  stream = calloc(L, sizeof(Query));
  /* A query's size at most: header, the longest name (or NX label + zone), type and class,
     OPT RR, ECS for a /56, COOKIE. */
  size_t longest = 13u + nx_zone.len;
  for (int n = 0; n < n_names; n++)
    if (names[n].len > longest) longest = names[n].len;
  arena = malloc((size_t)L * (12 + longest + 4 + 11 + 15 + 12));
  if (!arena) die("malloc");
  uint64_t slots = 1;
  while (slots < (uint64_t)L * 2) slots <<= 1;
  seen = calloc(slots, 8);
  seen_mask = slots - 1;
  uint32_t *name_count = calloc(n_names, 4);
  uint8_t *subnet_used = calloc(n_subnets + 1, 1);
  for (long i = 0; i < L; i++) {
    Query *q = &stream[i];
    double u = rnd01();
    q->type = u < opt.mix_a ? 1 : u < opt.mix_a + opt.mix_aaaa ? 2 : 3;
    q->ecs = rnd01() < opt.ecs_share && n_ecs_res > 0;
    if (!n_plain_res) q->ecs = 1;
    int name = -1;
    for (int tries = 0;; tries++) {
      if (tries > 100000) die("cannot fill the window with distinct tuples: lower --window");
      int rank = q->type == 3 ? 0 : zipf_rank();
      name = zipf_perm[rank];
      int ok = 0;
      for (int t = 0; t < 8 && !ok; t++) {
        if (q->ecs) {
          q->subnet = rndn(n_subnets) + 1;
          q->resolver = ecs_res[(q->subnet - 1) % n_ecs_res];
        } else {
          q->subnet = 0;
          q->resolver = plain_res[rndn(n_plain_res)];
        }
        /* NX names are fresh on every send: no tuple to keep apart. */
        ok = q->type == 3 || opt.repeat ||
             seen_insert((uint64_t)q->type << 60 | (uint64_t)name << 40 | (uint64_t)q->resolver << 20 | q->subnet);
        if (!ok) gen_stats.redraws++;
      }
      if (ok) break;
    }
    /* DO from a hash of the position, not from the stream's generator: the rest of the
       stream does not depend on --do. */
    uint64_t h = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    q->dnssec = (double)(h % 1000000) < opt.do_pct * 10000;
    Name *nm = &names[name];
    q->off = (uint32_t)arena_len;
    q->len = encode(arena + arena_len, q, nm, &q->nx_label);
    arena_len += q->len;
    gen_stats.queries++;
    gen_stats.ecs += q->subnet != 0;
    gen_stats.cookies += res_has_cookie[q->resolver];
    gen_stats.dnssec += q->dnssec;
    gen_stats.a += q->type == 1, gen_stats.aaaa += q->type == 2, gen_stats.nx += q->type == 3;
    if (q->type != 3) name_count[name]++;
    if (q->subnet && !subnet_used[q->subnet]) subnet_used[q->subnet] = 1, gen_stats.distinct_subnets++;
  }
  for (int n = 0; n < n_names; n++) gen_stats.distinct_names += name_count[n] != 0;
  /* Popularity after the window cap: the ten most asked names' share of name queries. */
  long named = gen_stats.a + gen_stats.aaaa, top = 0;
  for (int k = 0; k < 10; k++) {
    uint32_t best = 0;
    int bi = -1;
    for (int n = 0; n < n_names; n++)
      if (name_count[n] > best) best = name_count[n], bi = n;
    if (bi < 0) break;
    top += best;
    name_count[bi] = 0;
  }
  gen_stats.top10_share = named ? (double)top / named : 0;
  free(name_count);
  free(subnet_used);
  free(seen);
}

// ---------------------------------------------------------------- sending and receiving

typedef struct {
  uint64_t sent_ns;
  uint32_t seq;
  uint8_t active;
} Slot;

static int socks[MAX_SOCKETS];
static Slot *slots[MAX_SOCKETS];
static uint16_t next_id[MAX_SOCKETS];
static struct sockaddr_in server_addr;
static struct {
  uint8_t sock;
  uint16_t id;
  uint32_t seq;
  uint64_t sent_ns;
} *ring;
static uint64_t ring_head, ring_tail;
static uint32_t seq_counter;
static uint32_t *hist;
static uint8_t *subnet_sent;
static long subnets_sent;

static struct {
  long sent, answered, lost, late, noerror, nxdomain, other_rcode, truncated, send_errors;
} st;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void open_sockets(void) {
  memset(&server_addr, 0, sizeof server_addr);
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons(opt.port);
  if (inet_pton(AF_INET, opt.server, &server_addr.sin_addr) != 1) die("--server");
  if ((ntohl(server_addr.sin_addr.s_addr) >> 24) != 127) die("--server must be in 127.0.0.0/8");
  for (int s = 0; s < opt.sockets_n; s++) {
    /* Bound to the wildcard address: replies to every 127/8 source reach it. */
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int size = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in any = {.sin_family = AF_INET};
    if (bind(fd, (struct sockaddr *)&any, sizeof any) != 0) die("bind");
    socks[s] = fd;
    slots[s] = calloc(65536, sizeof(Slot));
  }
  ring = malloc(sizeof(*ring) * RING);
  hist = malloc(sizeof(uint32_t) * (HIST_US + 1));
  subnet_sent = calloc(n_subnets + 1, 1);
}

static struct in_addr resolver_addr(int r) {
  int a = r % opt.addresses;
  struct in_addr in;
  if (opt.source_net) {
    in.s_addr = htonl(opt.source_net | (uint32_t)(1 + a));
    return in;
  }
  in.s_addr = htonl((127u << 24) | ((uint32_t)(1 + (a >> 8)) << 16) | ((uint32_t)(a & 0xff) << 8) | 1u);
  return in;
}

static const char LABEL[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static long cursor; /* position in the stream, kept across phases */

/* Sends n queries from the stream: one sendmmsg per socket, each message with its own
   source address (IP_PKTINFO, ip(7)). */
static void send_queries(int n) {
  static struct mmsghdr msgs[MAX_SOCKETS][BATCH];
  static struct iovec iovs[MAX_SOCKETS][BATCH];
  static union {
    char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct cmsghdr align;
  } ctl[MAX_SOCKETS][BATCH];
  static uint32_t pending_seq[MAX_SOCKETS][BATCH];
  static uint16_t pending_id[MAX_SOCKETS][BATCH];
  while (n > 0) {
    int count[MAX_SOCKETS] = {0};
    int take = n < BATCH ? n : BATCH;
    for (int k = 0; k < take; k++) {
      Query *q = &stream[cursor];
      cursor = cursor + 1 == opt.window ? 0 : cursor + 1;
      int s = q->resolver / opt.addresses % opt.sockets_n;
      int c = count[s]++;
      uint8_t *p = arena + q->off;
      uint16_t id = next_id[s]++;
      Slot *slot = &slots[s][id];
      if (slot->active) slot->active = 0, st.lost++; /* wrapped while still waiting */
      p[0] = (uint8_t)(id >> 8), p[1] = (uint8_t)id;
      if (q->nx_label) {
        uint64_t r = rnd();
        for (int i = 0; i < 12; i++, r /= 36) p[q->nx_label + i] = (uint8_t)LABEL[r % 36];
      }
      if (q->subnet && !subnet_sent[q->subnet]) subnet_sent[q->subnet] = 1, subnets_sent++;
      iovs[s][c].iov_base = p;
      iovs[s][c].iov_len = q->len;
      struct msghdr *h = &msgs[s][c].msg_hdr;
      memset(h, 0, sizeof *h);
      h->msg_name = &server_addr;
      h->msg_namelen = sizeof server_addr;
      h->msg_iov = &iovs[s][c];
      h->msg_iovlen = 1;
      h->msg_control = ctl[s][c].buf;
      h->msg_controllen = sizeof ctl[s][c].buf;
      struct cmsghdr *cm = CMSG_FIRSTHDR(h);
      cm->cmsg_level = IPPROTO_IP;
      cm->cmsg_type = IP_PKTINFO;
      cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
      struct in_pktinfo pi = {0};
      pi.ipi_spec_dst = resolver_addr(q->resolver);
      memcpy(CMSG_DATA(cm), &pi, sizeof pi);
      pending_seq[s][c] = ++seq_counter;
      pending_id[s][c] = id;
    }
    uint64_t t = now_ns();
    for (int s = 0; s < opt.sockets_n; s++) {
      int done = 0;
      while (done < count[s]) {
        int r = sendmmsg(socks[s], msgs[s] + done, count[s] - done, 0);
        if (r < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != ENOBUFS) die("sendmmsg");
          st.send_errors += count[s] - done;
          break;
        }
        for (int k = done; k < done + r; k++) {
          Slot *slot = &slots[s][pending_id[s][k]];
          slot->active = 1, slot->sent_ns = t, slot->seq = pending_seq[s][k];
          ring[ring_tail & (RING - 1)].sock = (uint8_t)s;
          ring[ring_tail & (RING - 1)].id = pending_id[s][k];
          ring[ring_tail & (RING - 1)].seq = pending_seq[s][k];
          ring[ring_tail & (RING - 1)].sent_ns = t;
          ring_tail++;
          st.sent++;
        }
        done += r;
      }
    }
    n -= take;
  }
}

/* Reads every reply waiting on the sockets marked ready (all when ready is NULL). */
static int receive(const struct pollfd *ready) {
  static struct mmsghdr msgs[BATCH];
  static struct iovec iovs[BATCH];
  static uint8_t bufs[BATCH][RECV_SIZE];
  int total = 0;
  for (int s = 0; s < opt.sockets_n; s++) {
    if (ready && !(ready[s].revents & POLLIN)) continue;
    for (;;) {
      for (int k = 0; k < BATCH; k++) {
        iovs[k].iov_base = bufs[k], iovs[k].iov_len = RECV_SIZE;
        memset(&msgs[k].msg_hdr, 0, sizeof msgs[k].msg_hdr);
        msgs[k].msg_hdr.msg_iov = &iovs[k], msgs[k].msg_hdr.msg_iovlen = 1;
      }
      int r = recvmmsg(socks[s], msgs, BATCH, MSG_DONTWAIT, NULL);
      if (r <= 0) break;
      uint64_t t = now_ns();
      for (int k = 0; k < r; k++) {
        uint8_t *p = bufs[k];
        if (msgs[k].msg_len < 12 || !(p[2] & 0x80)) continue;
        Slot *slot = &slots[s][(uint16_t)(p[0] << 8 | p[1])];
        if (!slot->active) {
          st.late++;
          continue;
        }
        slot->active = 0;
        st.answered++;
        uint64_t us = (t - slot->sent_ns) / 1000;
        hist[us > HIST_US ? HIST_US : us]++;
        int rcode = p[3] & 0x0f;
        if (rcode == 0) st.noerror++;
        else if (rcode == 3) st.nxdomain++;
        else st.other_rcode++;
        if (p[2] & 0x02) st.truncated++;
      }
      total += r;
      if (r < BATCH) break;
    }
  }
  return total;
}

static void expire(uint64_t t) {
  uint64_t limit = (uint64_t)opt.timeout_ms * 1000000ull;
  while (ring_head < ring_tail) {
    typeof(*ring) *e = &ring[ring_head & (RING - 1)];
    if (t - e->sent_ns < limit) break;
    Slot *slot = &slots[e->sock][e->id];
    if (slot->active && slot->seq == e->seq) slot->active = 0, st.lost++;
    ring_head++;
  }
}

static long in_flight(void) { return st.sent - st.answered - st.lost; }

/* Waits up to ns for replies and reads them. */
static void wait_and_receive(uint64_t ns) {
  struct pollfd pfd[MAX_SOCKETS];
  for (int s = 0; s < opt.sockets_n; s++) pfd[s].fd = socks[s], pfd[s].events = POLLIN, pfd[s].revents = 0;
  struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
  if (ppoll(pfd, opt.sockets_n, &ts, NULL) > 0) receive(pfd);
}

// ---------------------------------------------------------------- CPU accounting

static long clk_tck;
static double pids_cpu(void) {
  double ticks = 0;
  char list[sizeof opt.cpu_pids];
  snprintf(list, sizeof list, "%s", opt.cpu_pids);
  for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", tok);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) continue;
    /* After "(comm) ": state is field 3; utime and stime are fields 14 and 15 (proc(5)). */
    unsigned long ut = 0, stt = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2) ticks += ut + stt;
  }
  return ticks / clk_tck;
}
static double self_user_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
}
static double self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
/* Whole machine (all cores): processes (user + nice + system) and softirq + irq. */
static void machine_cpu(double *proc, double *irq) {
  FILE *f = fopen("/proc/stat", "r");
  unsigned long long u = 0, ni = 0, sy = 0, id = 0, io = 0, hi = 0, si = 0;
  if (f) {
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &u, &ni, &sy, &id, &io, &hi, &si) != 7)
      u = ni = sy = hi = si = 0;
    fclose(f);
  }
  *proc = (double)(u + ni + sy) / clk_tck;
  *irq = (double)(hi + si) / clk_tck;
}

static double pct(double q, long total) {
  if (!total) return -1;
  long rank = (long)(q * total + 0.999999999);
  if (rank < 1) rank = 1;
  long acc = 0;
  for (long us = 0; us <= HIST_US; us++)
    if ((acc += hist[us]) >= rank) return us / 1000.0;
  return HIST_US / 1000.0;
}

// ---------------------------------------------------------------- phases

static void run_phase(const char *name, const char *mode, double param, double seconds, int first) {
  memset(&st, 0, sizeof st);
  memset(hist, 0, sizeof(uint32_t) * (HIST_US + 1));
  int is_max = !strcmp(mode, "max");
  if (!is_max && strcmp(mode, "rate")) die("phase mode: rate or max");
  double gen0 = self_cpu(), user0 = self_user_cpu(), srv0 = pids_cpu(), m0, i0;
  machine_cpu(&m0, &i0);
  uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
  for (;;) {
    uint64_t t = now_ns();
    if (t >= end) break;
    expire(t);
    long n;
    if (is_max) n = (long)param - in_flight();
    else n = (long)((double)(t - t0) * param / 1e9) + 1 - st.sent - st.send_errors;
    if (n > 1024) n = 1024;
    if (n > 0) send_queries((int)n);
    uint64_t wait = 10000000; /* 10 ms: the timeout scan's granularity */
    if (!is_max) {
      /* The next send is due at `due`; waking at most every TICK_NS sends small batches
         (a few queries at 20k QPS) instead of one wake-up per query. */
      uint64_t due = t0 + (uint64_t)((double)(st.sent + st.send_errors) * 1e9 / param);
      t = now_ns();
      wait = due > t + TICK_NS ? due - t : TICK_NS;
    } else if (in_flight() < (long)param) wait = 0;
    wait_and_receive(wait);
  }
  uint64_t t_end = now_ns();
  /* Replies still on their way count; then whatever is unanswered is lost. */
  while (in_flight() > 0) {
    uint64_t t = now_ns();
    if (t - t_end > (uint64_t)opt.timeout_ms * 1000000ull) break;
    expire(t);
    if (in_flight() > 0) wait_and_receive(1000000);
  }
  receive(NULL);
  st.lost += in_flight() > 0 ? in_flight() : 0;
  for (uint64_t i = ring_head; i < ring_tail; i++) slots[ring[i & (RING - 1)].sock][ring[i & (RING - 1)].id].active = 0;
  ring_head = ring_tail;
  double wall = (t_end - t0) / 1e9;
  double gen = self_cpu() - gen0, user = self_user_cpu() - user0, srv = pids_cpu() - srv0, m1, i1;
  machine_cpu(&m1, &i1);
  printf("%s{\"name\":\"%s\",\"mode\":\"%s\",\"param\":%g,\"seconds\":%.3f,\"sent\":%ld,\"answered\":%ld,"
         "\"lost\":%ld,\"late\":%ld,\"sendErrors\":%ld,\"qps\":%.1f,\"noerror\":%ld,\"nxdomain\":%ld,"
         "\"otherRcode\":%ld,\"truncated\":%ld,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"p999Ms\":%.3f,"
         "\"genCpuUsPerQuery\":%.2f,\"genUserUsPerQuery\":%.2f,\"genCores\":%.3f,"
         "\"serverCpuUsPerQuery\":%.2f,\"serverCores\":%.3f,"
         "\"machineProcessCores\":%.3f,\"machineIrqCores\":%.3f,\"subnetsSentSoFar\":%ld}",
         first ? "" : ",", name, mode, param, wall, st.sent, st.answered, st.lost, st.late, st.send_errors,
         st.answered / wall, st.noerror, st.nxdomain, st.other_rcode, st.truncated, pct(0.5, st.answered),
         pct(0.99, st.answered), pct(0.999, st.answered), st.sent ? gen * 1e6 / st.sent : -1,
         st.sent ? user * 1e6 / st.sent : -1,
         gen / wall, st.answered + st.late ? srv * 1e6 / (st.answered + st.late) : -1, srv / wall,
         (m1 - m0) / wall, (i1 - i0) / wall,
         subnets_sent);
  fflush(stdout);
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  clk_tck = sysconf(_SC_CLK_TCK);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  rng_state = opt.seed;
  double c0 = self_cpu();
  load_names();
  make_population();
  make_stream();
  double gen_seconds = self_cpu() - c0;
  rng_state ^= 0x5deece66dull; /* NX labels at send time: their own sequence */
  open_sockets();
  int cookie_resolvers = 0;
  for (int r = 0; r < opt.resolvers; r++) cookie_resolvers += res_has_cookie[r];
  printf("{\"stream\":{\"queries\":%ld,\"names\":%d,\"distinctNames\":%ld,\"top10NameShare\":%.4f,"
         "\"resolvers\":%d,\"sourceAddresses\":%d,\"sockets\":%d,\"ecsResolvers\":%d,"
         "\"cookieResolvers\":%d,\"subnets\":%d,\"distinctSubnets\":%ld,\"ecsShare\":%.4f,"
         "\"cookieShare\":%.4f,\"doShare\":%.4f,\"aShare\":%.4f,\"aaaaShare\":%.4f,\"nxShare\":%.4f,\"redraws\":%ld,"
         "\"buildCpuSeconds\":%.2f,\"bytes\":%zu},\"phases\":[",
         gen_stats.queries, n_names, gen_stats.distinct_names, gen_stats.top10_share, opt.resolvers,
         opt.addresses < opt.resolvers ? opt.addresses : opt.resolvers, opt.sockets_n, n_ecs_res,
         cookie_resolvers,
         n_subnets, gen_stats.distinct_subnets, (double)gen_stats.ecs / gen_stats.queries,
         (double)gen_stats.cookies / gen_stats.queries, (double)gen_stats.dnssec / gen_stats.queries,
         (double)gen_stats.a / gen_stats.queries,
         (double)gen_stats.aaaa / gen_stats.queries, (double)gen_stats.nx / gen_stats.queries, gen_stats.redraws,
         gen_seconds, arena_len);
  char spec[sizeof opt.phases];
  snprintf(spec, sizeof spec, "%s", opt.phases);
  int first = 1;
  char *save = NULL;
  for (char *ph = strtok_r(spec, ",", &save); ph; ph = strtok_r(NULL, ",", &save)) {
    char pname[32], mode[8];
    double param, seconds;
    if (sscanf(ph, "%31[^:]:%7[^:]:%lf:%lf", pname, mode, &param, &seconds) != 4 || param <= 0 || seconds <= 0 ||
        seconds > 600)
      die("--phases: name:rate:QPS:SECONDS or name:max:INFLIGHT:SECONDS (at most 600 s each)");
    run_phase(pname, mode, param, seconds, first);
    first = 0;
  }
  printf("]}\n");
  return 0;
}
