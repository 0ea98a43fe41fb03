// A UDP socket that receives with recvmmsg(2) and sends with sendmmsg(2), driven by a
// libuv poll handle on Node's own event loop (nothing here blocks or starts a thread).
//
// Contract with JavaScript (src/dns/udp-batch.ts is the only user):
// - Each wake-up that finds datagrams calls `onBatch(count)` once per batch of at most
//   `batch` datagrams. Datagram i lies at recv[i * slot .. + len]; its description is
//   meta[i * META_INTS ..]: len (-1: larger than the slot, dropped), port, family (4 or 6),
//   the IPv4 address as a host-order uint32 (0 for IPv6), the address text's length, then
//   the text itself (bytes META_TEXT.., as libuv, and so Node's dgram, writes it).
// - Only during that call, `flush(n)` sends n replies described in sendMeta (offset and
//   length in the send area, and the index of the datagram of this batch answered): the
//   reply goes to that datagram's source address. A reply the kernel cannot take now
//   (EAGAIN) is copied to a bounded queue sent when the socket becomes writable.
// - `sendTo(buffer, port, address)` sends one datagram at any time (answers that come later).
// - `close()` closes the socket at once, also from inside onBatch; nothing is called after.
// Linux only (recvmmsg/sendmmsg); the build is skipped elsewhere.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>
#include <node_api.h>

#define META_INTS 16
#define META_TEXT 20
#define SEND_META_INTS 4
// One batch per wake-up, as libuv reads a bounded number per turn for dgram: timers (the
// load shedder's lag clock among them) and IPC run between batches.
#define MAX_BATCHES_PER_WAKE 1
#define MAX_QUEUED 4096

enum { ST_BATCHES, ST_DATAGRAMS, ST_OVERSIZED, ST_SENT, ST_SEND_ERRORS, ST_QUEUED, ST_QUEUE_DROPPED,
       ST_RECV_ERRORS, ST_COUNT };

typedef struct queued {
  struct queued *next;
  struct sockaddr_storage to;
  socklen_t tolen;
  size_t len;
  unsigned char data[];
} queued_t;

typedef struct {
  napi_env env;
  napi_ref self;      // strong while open: the object is not collected while it can call back
  napi_ref on_batch;
  napi_ref buffers[4];  // recv, meta, send, sendMeta ArrayBuffers
  napi_async_context async;
  uv_poll_t poll;
  int poll_open;
  int poll_events;  // the events the poll handle watches now (changed only when needed)
  int fd;
  int family;
  unsigned batch;
  unsigned slot;
  size_t send_size;
  unsigned char *recv;
  int32_t *meta;
  unsigned char *send;
  int32_t *send_meta;
  struct mmsghdr *rmsgs;
  struct iovec *riov;
  struct sockaddr_storage *raddr;
  struct mmsghdr *smsgs;
  struct iovec *siov;
  unsigned in_batch;  // datagrams of the batch now in onBatch (0 outside it)
  queued_t *qhead, *qtail;
  unsigned qlen;
  double stats[ST_COUNT];
} sock_t;

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, "ERR_UDP_BATCH", "node-api call failed: " #call); \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error;
  const char *name = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES"
                     : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "EUDPBATCH";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return NULL;
}

static void on_poll(uv_poll_t *h, int status, int events);

static void free_queue(sock_t *s) {
  while (s->qhead) {
    queued_t *q = s->qhead;
    s->qhead = q->next;
    free(q);
  }
  s->qtail = NULL;
  s->qlen = 0;
}

// The JavaScript side is let go here, on a later loop turn than close(): close() may run
// inside onBatch, whose callback scope still uses the async context.
static void on_poll_closed(uv_handle_t *h) {
  sock_t *s = h->data;
  s->poll_open = 0;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (s->on_batch) {
    napi_delete_reference(s->env, s->on_batch);
    s->on_batch = NULL;
  }
  if (s->async) {
    napi_async_destroy(s->env, s->async);
    s->async = NULL;
  }
  napi_close_handle_scope(s->env, scope);
  if (s->self) {
    napi_delete_reference(s->env, s->self);
    s->self = NULL;
  }
}

static void do_close(sock_t *s) {
  if (s->fd < 0) return;
  uv_poll_stop(&s->poll);
  close(s->fd);
  s->fd = -1;
  free_queue(s);
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  sock_t *s = data;
  // Collected only once closed (the self reference holds it while open).
  for (int i = 0; i < 4; i++)
    if (s->buffers[i]) napi_delete_reference(env, s->buffers[i]);
  free(s->rmsgs);
  free(s->riov);
  free(s->raddr);
  free(s->smsgs);
  free(s->siov);
  free(s);
}

static void update_poll(sock_t *s) {
  if (s->fd < 0) return;
  int events = UV_READABLE | (s->qhead ? UV_WRITABLE : 0);
  if (events == s->poll_events) return;
  s->poll_events = events;
  uv_poll_start(&s->poll, events, on_poll);
}

static int would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS; }

static void enqueue(sock_t *s, const void *to, socklen_t tolen, const void *data, size_t len) {
  if (s->qlen >= MAX_QUEUED) {
    s->stats[ST_QUEUE_DROPPED]++;
    return;
  }
  queued_t *q = malloc(sizeof *q + len);
  if (!q) {
    s->stats[ST_QUEUE_DROPPED]++;
    return;
  }
  q->next = NULL;
  memcpy(&q->to, to, tolen);
  q->tolen = tolen;
  q->len = len;
  memcpy(q->data, data, len);
  if (s->qtail) s->qtail->next = q;
  else s->qhead = q;
  s->qtail = q;
  s->qlen++;
  s->stats[ST_QUEUED]++;
}

// Sends msgs[0..n) with as few sendmmsg calls as the kernel allows: a partial send goes on
// from where it stopped; a message the kernel refuses (other than EAGAIN) is dropped and
// counted; from the first EAGAIN on, the rest are queued for when the socket is writable.
static void send_all(sock_t *s, struct mmsghdr *msgs, unsigned n) {
  unsigned done = 0;
  while (done < n) {
    if (s->qhead) break;  // keep order: nothing overtakes what waits in the queue
    int r = sendmmsg(s->fd, msgs + done, n - done, MSG_DONTWAIT);
    if (r > 0) {
      done += (unsigned)r;
      s->stats[ST_SENT] += r;
      continue;
    }
    int err = errno;
    if (r < 0 && err == EINTR) continue;
    if (r < 0 && would_block(err)) break;
    s->stats[ST_SEND_ERRORS]++;
    done++;
  }
  for (; done < n; done++) {
    struct msghdr *h = &msgs[done].msg_hdr;
    enqueue(s, h->msg_name, h->msg_namelen, h->msg_iov[0].iov_base, h->msg_iov[0].iov_len);
  }
  update_poll(s);
}

static void drain_queue(sock_t *s) {
  while (s->qhead && s->fd >= 0) {
    queued_t *q = s->qhead;
    ssize_t r = sendto(s->fd, q->data, q->len, MSG_DONTWAIT, (struct sockaddr *)&q->to, q->tolen);
    if (r < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (would_block(err)) break;
      s->stats[ST_SEND_ERRORS]++;
    } else {
      s->stats[ST_SENT]++;
    }
    s->qhead = q->next;
    if (!s->qhead) s->qtail = NULL;
    s->qlen--;
    free(q);
  }
  update_poll(s);
}

static void describe(sock_t *s, unsigned i) {
  int32_t *m = s->meta + i * META_INTS;
  struct mmsghdr *h = &s->rmsgs[i];
  if (h->msg_hdr.msg_flags & MSG_TRUNC) {
    m[0] = -1;
    s->stats[ST_OVERSIZED]++;
  } else {
    m[0] = (int32_t)h->msg_len;
  }
  char *text = (char *)(m + META_TEXT / 4);
  const struct sockaddr_storage *a = &s->raddr[i];
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)a;
    m[1] = ntohs(in->sin_port);
    m[2] = 4;
    m[3] = (int32_t)ntohl(in->sin_addr.s_addr);
    uv_ip4_name(in, text, (META_INTS * 4) - META_TEXT);
  } else {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
    m[1] = ntohs(in6->sin6_port);
    m[2] = 6;
    m[3] = 0;
    uv_ip6_name(in6, text, (META_INTS * 4) - META_TEXT);
  }
  m[4] = (int32_t)strlen(text);
}

static void receive(sock_t *s) {
  napi_env env = s->env;
  for (int round = 0; round < MAX_BATCHES_PER_WAKE && s->fd >= 0; round++) {
    for (unsigned i = 0; i < s->batch; i++) {
      s->rmsgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      s->rmsgs[i].msg_hdr.msg_flags = 0;
      s->rmsgs[i].msg_len = 0;
    }
    int n = recvmmsg(s->fd, s->rmsgs, s->batch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (!would_block(err)) s->stats[ST_RECV_ERRORS]++;
      return;
    }
    if (n == 0) return;
    for (int i = 0; i < n; i++) describe(s, (unsigned)i);
    s->stats[ST_BATCHES]++;
    s->stats[ST_DATAGRAMS] += n;

    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value cb, self, argv[1], result;
    napi_get_reference_value(env, s->on_batch, &cb);
    napi_get_reference_value(env, s->self, &self);
    napi_create_uint32(env, (uint32_t)n, &argv[0]);
    s->in_batch = (unsigned)n;
    napi_status st = napi_make_callback(env, s->async, self, cb, 1, argv, &result);
    s->in_batch = 0;
    if (st == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    napi_close_handle_scope(env, scope);
    if ((unsigned)n < s->batch) return;  // drained; level-triggered poll calls again if not
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_t *s = h->data;
  if (s->fd < 0) return;
  if (status < 0) {
    s->stats[ST_RECV_ERRORS]++;
    return;
  }
  if (events & UV_WRITABLE) drain_queue(s);
  if ((events & UV_READABLE) && s->fd >= 0) receive(s);
}

static sock_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) {
    napi_throw_error(env, "ERR_UDP_BATCH", "not a UdpBatch socket");
    return NULL;
  }
  return data;
}

static uint32_t get_u32(napi_env env, napi_value obj, const char *name, uint32_t dflt) {
  napi_value v;
  bool has = false;
  uint32_t out = dflt;
  if (napi_has_named_property(env, obj, name, &has) == napi_ok && has &&
      napi_get_named_property(env, obj, name, &v) == napi_ok) {
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_number) napi_get_value_uint32(env, v, &out);
    else if (t == napi_boolean) {
      bool b;
      napi_get_value_bool(env, v, &b);
      out = b;
    }
  }
  return out;
}

static napi_value new_buffer(napi_env env, sock_t *s, int which, size_t size, void **data) {
  napi_value ab;
  if (napi_create_arraybuffer(env, size, data, &ab) != napi_ok) return NULL;
  if (napi_create_reference(env, ab, 1, &s->buffers[which]) != napi_ok) return NULL;
  return ab;
}

// new UdpBatch({ family, address, port, reusePort, recvBufferSize, batch, slot, sendSize }, onBatch)
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  napi_valuetype t0, t1;
  if (argc < 2 || napi_typeof(env, argv[0], &t0) != napi_ok || t0 != napi_object ||
      napi_typeof(env, argv[1], &t1) != napi_ok || t1 != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "UdpBatch(options, onBatch)");
    return NULL;
  }
  char address[64] = {0};
  napi_value addr_v;
  size_t alen = 0;
  CHECK(napi_get_named_property(env, argv[0], "address", &addr_v));
  if (napi_get_value_string_latin1(env, addr_v, address, sizeof address, &alen) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "options.address must be a string");
    return NULL;
  }
  uint32_t family = get_u32(env, argv[0], "family", 4);
  uint32_t port = get_u32(env, argv[0], "port", 0);
  uint32_t reuse = get_u32(env, argv[0], "reusePort", 0);
  uint32_t rcvbuf = get_u32(env, argv[0], "recvBufferSize", 0);
  uint32_t batch = get_u32(env, argv[0], "batch", 64);
  uint32_t slot = get_u32(env, argv[0], "slot", 65536);
  uint32_t send_size = get_u32(env, argv[0], "sendSize", 256 * 1024);
  if ((family != 4 && family != 6) || port > 65535 || batch < 1 || batch > 1024 || slot < 12 ||
      slot > 65536 || send_size < 512 || send_size > (64u << 20)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "UdpBatch: family, port, batch, slot or sendSize out of range");
    return NULL;
  }

  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  if (family == 4) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &in->sin_addr) != 1) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "options.address is not an IPv4 address");
      return NULL;
    }
    sslen = sizeof *in;
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &in6->sin6_addr) != 1) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "options.address is not an IPv6 address");
      return NULL;
    }
    sslen = sizeof *in6;
  }

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "setsockopt SO_REUSEPORT", err);
  }
  if (rcvbuf) {
    int v = (int)rcvbuf;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);  // best effort, as dgram's
  }
  if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
    int err = errno;
    close(fd);
    char what[128];
    snprintf(what, sizeof what, "bind %s:%u", address, port);
    return throw_errno(env, what, err);
  }

  sock_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    napi_throw_error(env, "ERR_UDP_BATCH", "out of memory");
    return NULL;
  }
  s->env = env;
  s->fd = fd;
  s->family = (int)family;
  s->batch = batch;
  s->slot = slot;
  s->send_size = send_size;
  s->rmsgs = calloc(batch, sizeof *s->rmsgs);
  s->riov = calloc(batch, sizeof *s->riov);
  s->raddr = calloc(batch, sizeof *s->raddr);
  s->smsgs = calloc(batch, sizeof *s->smsgs);
  s->siov = calloc(batch, sizeof *s->siov);
  napi_value bufs[4];
  int ok = s->rmsgs && s->riov && s->raddr && s->smsgs && s->siov;
  ok = ok && (bufs[0] = new_buffer(env, s, 0, (size_t)batch * slot, (void **)&s->recv));
  ok = ok && (bufs[1] = new_buffer(env, s, 1, (size_t)batch * META_INTS * 4, (void **)&s->meta));
  ok = ok && (bufs[2] = new_buffer(env, s, 2, send_size, (void **)&s->send));
  ok = ok && (bufs[3] = new_buffer(env, s, 3, (size_t)batch * SEND_META_INTS * 4, (void **)&s->send_meta));
  if (!ok) {
    close(fd);
    s->fd = -1;
    finalize(env, s, NULL);
    napi_throw_error(env, "ERR_UDP_BATCH", "out of memory");
    return NULL;
  }
  for (unsigned i = 0; i < batch; i++) {
    s->riov[i].iov_base = s->recv + (size_t)i * slot;
    s->riov[i].iov_len = slot;
    s->rmsgs[i].msg_hdr.msg_iov = &s->riov[i];
    s->rmsgs[i].msg_hdr.msg_iovlen = 1;
    s->rmsgs[i].msg_hdr.msg_name = &s->raddr[i];
    s->smsgs[i].msg_hdr.msg_iov = &s->siov[i];
    s->smsgs[i].msg_hdr.msg_iovlen = 1;
  }

  napi_value arr;
  CHECK(napi_create_array_with_length(env, 4, &arr));
  for (uint32_t i = 0; i < 4; i++) CHECK(napi_set_element(env, arr, i, bufs[i]));
  CHECK(napi_set_named_property(env, self, "buffers", arr));

  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    close(fd);
    s->fd = -1;
    finalize(env, s, NULL);
    napi_throw_error(env, "ERR_UDP_BATCH", "napi_wrap failed");
    return NULL;
  }
  CHECK(napi_create_reference(env, self, 1, &s->self));
  CHECK(napi_create_reference(env, argv[1], 1, &s->on_batch));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "UdpBatch", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, self, name, &s->async));
  uv_poll_init(loop, &s->poll, fd);
  s->poll.data = s;
  s->poll_open = 1;
  update_poll(s);
  return self;
}

static napi_value m_port(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  napi_value out;
  if (s->fd < 0) {
    napi_get_null(env, &out);
    return out;
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0) return throw_errno(env, "getsockname", errno);
  uint32_t port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                          : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  CHECK(napi_create_uint32(env, port, &out));
  return out;
}

// flush(n): sends n replies described in sendMeta to sources of the current batch.
static napi_value m_flush(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  sock_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint32_t n = 0;
  if (argc < 1 || napi_get_value_uint32(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flush(count)");
    return NULL;
  }
  if (s->fd < 0 || n == 0) return NULL;
  if (n > s->batch) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "flush: more replies than the batch size");
    return NULL;
  }
  unsigned m = 0;
  for (uint32_t i = 0; i < n; i++) {
    const int32_t *d = s->send_meta + i * SEND_META_INTS;
    int32_t off = d[0], len = d[1], to = d[2];
    if (off < 0 || len < 0 || (size_t)off + (size_t)len > s->send_size || to < 0 ||
        (unsigned)to >= s->in_batch) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "flush: a reply outside the send area or the batch");
      return NULL;
    }
    struct mmsghdr *h = &s->smsgs[m++];
    s->siov[m - 1].iov_base = s->send + off;
    s->siov[m - 1].iov_len = (size_t)len;
    h->msg_hdr.msg_name = &s->raddr[to];
    h->msg_hdr.msg_namelen = s->rmsgs[to].msg_hdr.msg_namelen;
  }
  send_all(s, s->smsgs, m);
  return NULL;
}

// sendTo(buffer, port, address): one datagram now (or queued on EAGAIN).
static napi_value m_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  sock_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  void *data;
  size_t len;
  uint32_t port;
  char address[64] = {0};
  size_t alen;
  if (argc < 3 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535 ||
      napi_get_value_string_latin1(env, argv[2], address, sizeof address, &alen) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "sendTo(buffer, port, address)");
    return NULL;
  }
  if (s->fd < 0) return NULL;
  struct sockaddr_storage ss;
  socklen_t sslen;
  memset(&ss, 0, sizeof ss);
  if (s->family == 4) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &in->sin_addr) != 1) goto bad;
    sslen = sizeof *in;
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, address, &in6->sin6_addr) != 1) {
      struct in_addr v4;
      if (inet_pton(AF_INET, address, &v4) != 1) goto bad;
      in6->sin6_addr.s6_addr[10] = 0xff;
      in6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&in6->sin6_addr.s6_addr[12], &v4, 4);
    }
    sslen = sizeof *in6;
  }
  {
    struct mmsghdr h;
    struct iovec v = {.iov_base = data, .iov_len = len};
    memset(&h, 0, sizeof h);
    h.msg_hdr.msg_name = &ss;
    h.msg_hdr.msg_namelen = sslen;
    h.msg_hdr.msg_iov = &v;
    h.msg_hdr.msg_iovlen = 1;
    send_all(s, &h, 1);
  }
  return NULL;
bad:
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "sendTo: address is not an IP address of the socket's family");
  return NULL;
}

static napi_value m_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  do_close(s);
  return NULL;
}

// stats(): [batches, datagrams, oversized, sent, sendErrors, queued, queueDropped, recvErrors, queuedNow]
static napi_value m_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  sock_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  napi_value arr, v;
  CHECK(napi_create_array_with_length(env, ST_COUNT + 1, &arr));
  for (uint32_t i = 0; i < ST_COUNT; i++) {
    CHECK(napi_create_double(env, s->stats[i], &v));
    CHECK(napi_set_element(env, arr, i, v));
  }
  CHECK(napi_create_double(env, s->qlen, &v));
  CHECK(napi_set_element(env, arr, ST_COUNT, v));
  return arr;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"port", NULL, m_port, NULL, NULL, NULL, napi_default, NULL},
      {"flush", NULL, m_flush, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, m_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, m_close, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, m_stats, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value cls, v;
  CHECK(napi_define_class(env, "UdpBatch", NAPI_AUTO_LENGTH, construct, NULL,
                          sizeof methods / sizeof methods[0], methods, &cls));
  CHECK(napi_set_named_property(env, exports, "UdpBatch", cls));
  CHECK(napi_create_uint32(env, META_INTS, &v));
  CHECK(napi_set_named_property(env, exports, "META_INTS", v));
  CHECK(napi_create_uint32(env, META_TEXT, &v));
  CHECK(napi_set_named_property(env, exports, "META_TEXT", v));
  CHECK(napi_create_uint32(env, SEND_META_INTS, &v));
  CHECK(napi_set_named_property(env, exports, "SEND_META_INTS", v));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
