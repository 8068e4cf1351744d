/* TLS plaintext from uprobes on the TLS library (OpenSSL's SSL_read/SSL_write and their _ex
 * forms), bound to the TCP connection the session runs on. Included by the tcp receiver's
 * programs, after defining CAPTURE_TLS, so the plaintext shares their connection table (same
 * conn_id, endpoints and role), ring buffer and counters.
 *
 * Binding: a call's entry is noted per thread (SSL*, buffer, direction); the socket syscall (or
 * tcp_sendmsg/recvmsg) made inside the call on the same thread names the connection
 * (tls_claims, called by capture_transfer), whose ciphertext is then never captured. The
 * binding is cached per process (tgid, SSL*) for calls that make no syscall (plaintext OpenSSL
 * had buffered). Two sockets inside one call are ambiguous: the plaintext is dropped and
 * counted, never attributed to either.
 *
 * Memory-BIO runtimes (Node.js: the library never touches the socket, the runtime moves the
 * ciphertext itself) make no socket call inside SSL_*. A session's first plaintext is bound by a
 * rule checked on lengths instead, on the same thread:
 *   - a write is held until the thread's next socket send, which must carry exactly its records
 *     (plaintext + 21..29 bytes per record of up to 16 KiB), or end with them: the send's bytes
 *     there are an application-data record header of the right length (the runtime may flush
 *     the handshake's last messages in the same send); it is then emitted from its buffer;
 *   - a read is bound to the thread's last socket receive when the plaintext fits in it;
 *   - a socket is bound to one session only.
 * Anything else is dropped and counted (CNT_TLS_UNVERIFIED); bound sessions use the cache.
 *
 * The programs are attached by user space (src/receivers/tls) to each library file, for every
 * process that maps it; pid_allowed filters here. */
#ifndef TCPSNIFF_TLS_CAPTURE_H
#define TCPSNIFF_TLS_CAPTURE_H

enum tls_call_kind {
	TLS_CALL_PLAIN = 0, /* SSL_read/SSL_write: the return value is the byte count */
	TLS_CALL_EX,        /* SSL_read_ex/SSL_write_ex: returns 1, the count is at *arg4 */
	TLS_CALL_CONTROL,   /* SSL_do_handshake, SSL_shutdown: no plaintext, but their syscalls bind */
};

/* At a function's return the stack pointer is above its entry value by the return address the
 * call pushed (x86), or equal to it (arm64): that is how a return finds its call. */
#if defined(__TARGET_ARCH_x86)
#define RET_SP_ABOVE_ENTRY 8
#else
#define RET_SP_ABOVE_ENTRY 0
#endif

struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 count_ptr; /* TLS_CALL_EX: where the library writes the byte count */
	__u64 sp;        /* stack pointer at entry: matches the return, tells stale entries apart */
	__u64 sk;        /* the socket a syscall inside the call moved bytes on (0: none yet) */
	__u8 dir;        /* enum rec_direction */
	__u8 kind;       /* enum tls_call_kind */
	__u8 ambiguous;  /* a second socket was seen */
	__u8 backend;    /* of the capture that saw the socket */
	__u8 membio;     /* a memory-BIO runtime: no socket call inside (see the top) */
	__u8 early;      /* emit at the first send inside the call (Go's Write: see go_enter) */
	__u8 emitted;    /* early: done */
	__u8 pad;
	__u64 count; /* in tls_pending_writes: the plaintext bytes */
	__u64 ts;    /* in tls_pending_writes: when the call returned */
};

/* The TLS calls a thread is in, innermost last. Calls nest for real in runtimes that run code
 * from inside SSL_read (Node: a JavaScript callback writes the request from inside the handshake's
 * SSL_read), besides the library's own nesting (SSL_connect → SSL_do_handshake). */
#define TLS_NEST 4
struct tls_thread {
	struct tls_call call[TLS_NEST];
	__u32 depth;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct tls_thread);
} tls_calls SEC(".maps");

/* The innermost call, or 0. */
static __always_inline struct tls_call *tls_current(struct tls_thread *t)
{
	if (!t || t->depth == 0 || t->depth > TLS_NEST)
		return 0;
	__u64 slot = t->depth - 1;
	asm volatile("%[s] &= %[m]" : [s] "+r"(slot) : [m] "i"(TLS_NEST - 1));
	return &t->call[slot];
}

/* A memory-BIO write that returned, waiting for its thread's next socket send (other TLS calls
 * may come first: a runtime reads while its write waits to be flushed), with a copy of its first
 * REC_CHUNK_BYTES as a ready record: the runtime may free its buffer before the send. */
struct tls_held {
	struct tls_call call;
	struct rec_hdr h;
	__u8 data[REC_CHUNK_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 4096);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct tls_held);
} tls_pending_writes SEC(".maps");

/* Where a held write is put together before it is stored (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_held);
} tls_held_scratch SEC(".maps");

struct tls_binding_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

/* A session's socket, and the conn_id it had: a freed socket's address may come back as another. */
struct tls_binding {
	__u64 sk;
	__u64 conn_id;
	__u8 backend;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tls_binding_key);
	__type(value, struct tls_binding);
} tls_bindings SEC(".maps");

/* The last socket receive of each thread of a memory-BIO process (its ciphertext is read just
 * before SSL_read decrypts it). */
struct tls_last_read {
	__u64 sk;
	__u64 len;
	__u64 ts;
	__u8 backend;
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct tls_last_read);
} tls_last_reads SEC(".maps");

/* Processes that made TLS calls (tgid → enum tls_proc_flags): the socket calls of every other
 * process cost tls_claims one lookup. */
enum tls_proc_flags {
	TLS_PROC_CALLS = 1,  /* calls that make their own socket calls (OpenSSL's socket BIO) */
	TLS_PROC_MEMBIO = 2, /* memory-BIO calls (Node.js) */
	TLS_PROC_GO = 4,     /* Go's crypto/tls */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} tls_procs SEC(".maps");

static __always_inline void tls_proc_mark(__u32 tgid, __u8 flag)
{
	__u8 *f = bpf_map_lookup_elem(&tls_procs, &tgid);
	if (f && (*f & flag))
		return;
	__u8 v = (f ? *f : 0) | flag;
	bpf_map_update_elem(&tls_procs, &tgid, &v, BPF_ANY);
}

#define TLS_RECORD_PLAINTEXT 16384
#define TLS_RECORD_MIN_OVERHEAD 21       /* header 5 + tag 16 (TLS 1.2 ChaCha20); TLS 1.3 adds 1 */
#define TLS_RECORD_MAX_OVERHEAD 29       /* header 5 + explicit nonce 8 + tag 16 (TLS 1.2 AES-GCM) */
#define TLS_MEMBIO_WINDOW_NS 50000000ULL /* the socket call follows within the same callback */

static __always_inline void tls_emit(struct conn_state *cs, __u32 pid, __u32 tid, __u8 dir, __u64 buf, __u64 n,
                                     __u8 backend);

/* Binds a memory-BIO session to sk after its length rule passed; 0 when sk is another session's. */
static __always_inline int tls_bind_membio(__u32 tgid, __u64 ssl, __u64 sk, struct conn_state *cs, __u8 backend)
{
	if (cs->tls_ssl && cs->tls_ssl != ssl)
		return 0;
	cs->tls = 1;
	cs->tls_ssl = ssl;
	struct tls_binding_key key = { .tgid = tgid, .ssl = ssl };
	struct tls_binding b = { .sk = sk, .conn_id = cs->conn_id, .backend = backend };
	bpf_map_update_elem(&tls_bindings, &key, &b, BPF_ANY);
	return 1;
}

/* The send of `sent` bytes at buf ends with the records of `count` plaintext bytes, encrypted with
 * `overhead` bytes per record: an application-data record header (type 23, version 3.3) with the
 * first record's length where they must begin. */
static __always_inline int tls_send_ends_with(__u64 buf, __u64 sent, __u64 count, __u64 records, __u32 overhead)
{
	__u64 size = count + records * overhead;
	__u8 hdr[5];
	if (sent < size || bpf_probe_read_user(hdr, sizeof(hdr), (void *)(buf + sent - size)))
		return 0;
	__u64 first = (count < TLS_RECORD_PLAINTEXT ? count : TLS_RECORD_PLAINTEXT) + overhead - 5;
	return hdr[0] == 23 && hdr[1] == 3 && hdr[2] == 3 && ((__u64)hdr[3] << 8 | hdr[4]) == first;
}

/* A memory-BIO write held for this send (sent on sk, `sent` bytes; kind and ptr describe its
 * buffer as in capture.h): emitted when the send carries its records (see the top). Returns 1
 * when it did (the send is ciphertext). */
static __always_inline int tls_pending_send(struct tls_held *p, __u64 id, struct sock *sk, struct conn_state *cs,
                                            __u8 kind, __u64 ptr, __u64 sent, __u8 backend)
{
	__u64 n = p->call.count;
	__u64 records = (n + TLS_RECORD_PLAINTEXT - 1) / TLS_RECORD_PLAINTEXT;
	int carries = sent >= n + records * TLS_RECORD_MIN_OVERHEAD && sent <= n + records * TLS_RECORD_MAX_OVERHEAD;
	/* TLS 1.3 (22 bytes per record: type byte and tag), TLS 1.2 AES-GCM (29), ChaCha20 (21). */
	if (!carries && kind == BUF_PLAIN)
		carries = tls_send_ends_with(ptr, sent, n, records, 22) ||
		          tls_send_ends_with(ptr, sent, n, records, 29) ||
		          tls_send_ends_with(ptr, sent, n, records, 21);
	int bound = bpf_ktime_get_ns() - p->call.ts <= TLS_MEMBIO_WINDOW_NS && carries &&
	            tls_bind_membio(id >> 32, p->call.ssl, (__u64)sk, cs, backend);
	if (!bound) {
		count(CNT_TLS_UNVERIFIED, 1);
		count(CNT_TLS_UNBOUND_BYTES, n);
	} else if (cs->capture) {
		struct rec_hdr *h = &p->h;
		h->version = REC_VERSION;
		h->kind = REC_DATA;
		h->direction = DIR_EGRESS;
		h->backend = backend;
		h->flags = REC_FLAG_TLS;
		h->pid = id >> 32;
		h->tid = (__u32)id;
		h->reserved = 0;
		header_endpoints(h, cs);
		header_sender(h, cs);
		report_process(h);
		__u32 len = h->len;
		asm volatile("if %[n] <= %[max] goto +1; %[n] = %[max];" : [n] "+r"(len) : [max] "i"(REC_CHUNK_BYTES));
		h->offset = cs->tls_offset[DIR_EGRESS];
		h->lost_after = n - len; /* beyond the copy: a gap of the exact length */
		if (h->lost_after)
			count(CNT_TRUNCATED_BYTES, h->lost_after);
		if (bpf_ringbuf_output(&events, h, sizeof(*h) + len, wakeup_flags(sizeof(*h) + len))) {
			count(CNT_RINGBUF_FULL_RECORDS, 1);
			count(CNT_RINGBUF_FULL_BYTES, len);
		}
		cs->tls_offset[DIR_EGRESS] += n;
	}
	bpf_map_delete_elem(&tls_pending_writes, &id);
	return bound;
}

/* ---- Go's crypto/tls ----
 * Goroutines move between threads, and a uretprobe breaks Go's stack handling (the program dies
 * with "unexpected return pc"): a call is keyed by its goroutine (the g pointer) and its end is
 * probed at each RET instruction of (*Conn).Read/Write (user space finds them). Go's register ABI
 * (amd64, go1.17+): the receiver in RAX, the slice's pointer and length in RBX and RCX, the
 * result n in RAX, g in R14; where the socket call is made, g is read from the thread's TLS slot
 * (-8 from the FS base; binaries linked by Go itself, not by an external linker). */
struct go_key {
	__u32 tgid;
	__u32 pad;
	__u64 g;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct tls_call);
} go_calls SEC(".maps");

/* The Go TLS call of the goroutine running on this thread, or 0. */
static __always_inline struct tls_call *go_current(__u64 id)
{
#if defined(__TARGET_ARCH_x86)
	__u32 tgid = id >> 32;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
	struct go_key k = { .tgid = tgid };
	if (!fsbase || bpf_probe_read_user(&k.g, sizeof(k.g), (void *)(fsbase - 8)))
		return 0;
	return bpf_map_lookup_elem(&go_calls, &k);
#else
	return 0;
#endif
}

/* Called for every captured transfer on a TCP socket (`moved` bytes in direction dir, buffer as
 * in capture_transfer): 1 when it
 * is ciphertext of a TLS session (inside a TLS call of this thread, or on a connection bound
 * before), which is not captured. */
static __always_inline int tls_claims(struct sock *sk, struct conn_state *cs, __u8 dir, __u8 kind, __u64 ptr,
                                      __u64 moved, __u8 backend)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u8 *pf = bpf_map_lookup_elem(&tls_procs, &tgid);
	if (!pf)
		return cs->tls;
	__u8 flags = *pf;
	if (dir == DIR_EGRESS && (flags & TLS_PROC_MEMBIO)) {
		struct tls_held *pw = bpf_map_lookup_elem(&tls_pending_writes, &id);
		if (pw && tls_pending_send(pw, id, sk, cs, kind, ptr, moved, backend))
			return 1;
	}
	struct tls_call *c = 0;
	if (flags & (TLS_PROC_CALLS | TLS_PROC_MEMBIO))
		c = tls_current(bpf_map_lookup_elem(&tls_calls, &id));
	if (!c && (flags & TLS_PROC_GO))
		c = go_current(id);
	/* A memory-BIO library makes no socket call: one made inside its call is the runtime's, for
	 * any socket (a callback's), and proves nothing. */
	if (c && c->membio)
		c = 0;
	if (!c && dir == DIR_INGRESS && (flags & TLS_PROC_MEMBIO)) {
		struct tls_last_read lr = {
			.sk = (__u64)sk, .len = moved, .ts = bpf_ktime_get_ns(), .backend = backend
		};
		bpf_map_update_elem(&tls_last_reads, &id, &lr, BPF_ANY);
	}
	if (c) {
		if (!c->sk) {
			c->sk = (__u64)sk;
			c->backend = backend;
		} else if (c->sk != (__u64)sk) {
			c->ambiguous = 1;
		}
		cs->tls = 1;
		if (c->early && !c->emitted && !c->ambiguous && dir == DIR_EGRESS) {
			c->emitted = 1;
			if (cs->capture)
				tls_emit(cs, id >> 32, (__u32)id, DIR_EGRESS, c->buf, c->count, backend);
		}
		return 1;
	}
	return cs->tls;
}

static __always_inline int tls_enter(struct pt_regs *ctx, __u8 dir, __u8 kind, __u8 membio)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!pid_allowed(tgid))
		return 0;
	__u64 sp = PT_REGS_SP(ctx);
	struct tls_thread *t = bpf_map_lookup_elem(&tls_calls, &id);
	if (!t) {
		struct tls_thread fresh = {};
		if (bpf_map_update_elem(&tls_calls, &id, &fresh, BPF_NOEXIST) &&
		    bpf_map_update_elem(&tls_calls, &id, &fresh, BPF_ANY)) {
			count(CNT_TLS_CALLS_FULL, 1);
			return 0;
		}
		t = bpf_map_lookup_elem(&tls_calls, &id);
		if (!t)
			return 0;
	}
	/* Calls at or below our stack pointer are not our callers: they ended without their return
	 * being seen (the thread left them another way). */
	for (int i = 0; i < TLS_NEST; i++) {
		struct tls_call *top = tls_current(t);
		if (!top || top->sp > sp)
			break;
		t->depth--;
	}
	struct tls_call *outer = tls_current(t);
	/* The library's own nesting (SSL_connect → SSL_do_handshake): the outer call owns it. */
	if (outer && outer->kind == TLS_CALL_CONTROL && kind == TLS_CALL_CONTROL)
		return 0;
	if (t->depth >= TLS_NEST) {
		count(CNT_TLS_CALLS_FULL, 1);
		return 0;
	}
	tls_proc_mark(tgid, membio ? TLS_PROC_MEMBIO : TLS_PROC_CALLS);
	/* Mask in asm: clang drops a C mask it can prove redundant, and the verifier then sees an
	 * unbounded index (as in capture.h). */
	__u64 slot = t->depth;
	asm volatile("%[s] &= %[m]" : [s] "+r"(slot) : [m] "i"(TLS_NEST - 1));
	struct tls_call *c = &t->call[slot];
	__builtin_memset(c, 0, sizeof(*c));
	c->ssl = PT_REGS_PARM1(ctx);
	c->buf = PT_REGS_PARM2(ctx);
	c->count_ptr = kind == TLS_CALL_EX ? PT_REGS_PARM4(ctx) : 0;
	c->sp = sp;
	c->dir = dir;
	c->kind = kind;
	c->membio = membio;
	t->depth++;
	return 0;
}

/* The plaintext bytes a call moved: > 0 only for a successful read or write. The functions
 * return int: the upper half of the return register is not part of it. */
static __always_inline __u64 tls_moved(const struct tls_call *c, int ret)
{
	if (c->kind == TLS_CALL_PLAIN)
		return ret > 0 ? ret : 0;
	if (c->kind != TLS_CALL_EX || ret != 1)
		return 0;
	__u64 n = 0;
	if (bpf_probe_read_user(&n, sizeof(n), (void *)c->count_ptr))
		count(CNT_COPY_FAILED, 1);
	return n;
}

/* A memory-BIO call with plaintext and no session binding yet: a write waits for the thread's
 * next send (tls_pending_send); a read is bound to the thread's last receive if it fits there. */
static __always_inline int tls_membio_unbound(struct tls_call *c, __u64 id, __u64 n)
{
	if (c->dir == DIR_EGRESS) {
		struct tls_held *earlier = bpf_map_lookup_elem(&tls_pending_writes, &id);
		if (earlier) { /* two writes before one send: their records cannot be told apart */
			count(CNT_TLS_UNVERIFIED, 1);
			count(CNT_TLS_UNBOUND_BYTES, earlier->call.count);
		}
		__u32 zero = 0;
		struct tls_held *held = bpf_map_lookup_elem(&tls_held_scratch, &zero);
		if (!held)
			return 0;
		held->call = *c;
		held->call.count = n;
		held->call.ts = bpf_ktime_get_ns();
		__u32 len = n < REC_CHUNK_BYTES ? n : REC_CHUNK_BYTES;
		asm volatile("if %[n] <= %[max] goto +1; %[n] = %[max];" : [n] "+r"(len) : [max] "i"(REC_CHUNK_BYTES));
		held->h.len = len;
		if (bpf_probe_read_user(held->data, len, (void *)c->buf)) {
			count(CNT_COPY_FAILED, 1);
			return 0;
		}
		if (bpf_map_update_elem(&tls_pending_writes, &id, held, BPF_ANY))
			count(CNT_TLS_CALLS_FULL, 1);
		return 0;
	}
	struct tls_last_read *lr = bpf_map_lookup_elem(&tls_last_reads, &id);
	struct conn_state *cs = lr ? bpf_map_lookup_elem(&conns, &lr->sk) : 0;
	if (!cs || bpf_ktime_get_ns() - lr->ts > TLS_MEMBIO_WINDOW_NS || n + TLS_RECORD_MIN_OVERHEAD > lr->len ||
	    !tls_bind_membio(id >> 32, c->ssl, lr->sk, cs, lr->backend)) {
		count(CNT_TLS_UNVERIFIED, 1);
		count(CNT_TLS_UNBOUND_BYTES, n);
		return 0;
	}
	if (cs->capture)
		tls_emit(cs, id >> 32, (__u32)id, DIR_INGRESS, c->buf, n, lr->backend);
	return 0;
}

static __always_inline int tls_finish(struct tls_call *cp, __u64 id, __u64 n);

static __always_inline int tls_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_thread *t = bpf_map_lookup_elem(&tls_calls, &id);
	if (!t)
		return 0;
	/* Our call is the one whose entry stack pointer matches; the ones above it are stale. None:
	 * a nested call the outer one owns. */
	__u64 entry_sp = PT_REGS_SP(ctx) - RET_SP_ABOVE_ENTRY;
	struct tls_call *p = 0;
	for (int i = 0; i < TLS_NEST; i++) {
		struct tls_call *top = tls_current(t);
		if (!top || top->sp > entry_sp)
			break;
		t->depth--;
		if (top->sp == entry_sp) {
			p = top;
			break;
		}
	}
	if (!p)
		return 0;
	struct tls_call c = *p;
	return tls_finish(&c, id, tls_moved(&c, (int)PT_REGS_RC(ctx)));
}

/* A call returned having moved n plaintext bytes: binds its session when a socket call inside
 * named the connection, else finds the binding, and emits the plaintext. */
static __always_inline int tls_finish(struct tls_call *cp, __u64 id, __u64 n)
{
	struct tls_call c = *cp;
	struct tls_binding_key key = { .tgid = id >> 32, .ssl = c.ssl };
	if (c.ambiguous) {
		count(CNT_TLS_AMBIGUOUS, 1);
		count(CNT_TLS_UNBOUND_BYTES, n);
		bpf_map_delete_elem(&tls_bindings, &key);
		return 0;
	}
	struct conn_state *cs;
	__u8 backend;
	if (c.sk) {
		cs = bpf_map_lookup_elem(&conns, &c.sk);
		if (!cs)
			return 0; /* closed meanwhile */
		struct tls_binding b = { .sk = c.sk, .conn_id = cs->conn_id, .backend = c.backend };
		bpf_map_update_elem(&tls_bindings, &key, &b, BPF_ANY);
		backend = c.backend;
	} else {
		if (!n)
			return 0;
		struct tls_binding *b = bpf_map_lookup_elem(&tls_bindings, &key);
		cs = b ? bpf_map_lookup_elem(&conns, &b->sk) : 0;
		if (!cs || cs->conn_id != b->conn_id) {
			if (b)
				bpf_map_delete_elem(&tls_bindings, &key);
			if (c.membio)
				return tls_membio_unbound(&c, id, n);
			count(CNT_TLS_UNBOUND, 1);
			count(CNT_TLS_UNBOUND_BYTES, n);
			return 0;
		}
		backend = b->backend;
	}
	if (n && cs->capture && !c.emitted)
		tls_emit(cs, id >> 32, (__u32)id, c.dir, c.buf, n, backend);
	return 0;
}

/* Emits n bytes of plaintext at buf as TLS records of the connection, at its plaintext offset. */
static __always_inline void tls_emit(struct conn_state *cs, __u32 pid, __u32 tid, __u8 dir, __u64 buf, __u64 n,
                                     __u8 backend)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!s)
		return;
	struct rec_hdr *h = &s->h;
	h->version = REC_VERSION;
	h->kind = REC_DATA;
	h->direction = dir;
	h->backend = backend;
	h->flags = REC_FLAG_TLS;
	h->pid = pid;
	h->tid = tid;
	h->reserved = 0;
	header_endpoints(h, cs);
	header_sender(h, cs);
	report_process(h);
	capture_payload(s, &cs->tls_offset[dir & 1], BUF_PLAIN, buf, 0, 0, n);
}

/* ---- the uprobes; user space attaches them per library file (src/receivers/tls) ---- */

#define TLS_ENTRY(name, dir, kind, membio)                \
	SEC("uprobe")                                     \
	int name(struct pt_regs *ctx)                     \
	{                                                 \
		return tls_enter(ctx, dir, kind, membio); \
	}

TLS_ENTRY(tls_enter_write, DIR_EGRESS, TLS_CALL_PLAIN, 0)
TLS_ENTRY(tls_enter_read, DIR_INGRESS, TLS_CALL_PLAIN, 0)
TLS_ENTRY(tls_enter_write_ex, DIR_EGRESS, TLS_CALL_EX, 0)
TLS_ENTRY(tls_enter_read_ex, DIR_INGRESS, TLS_CALL_EX, 0)
TLS_ENTRY(tls_enter_control, DIR_EGRESS, TLS_CALL_CONTROL, 0)
/* The same functions in a memory-BIO runtime (the node executable). */
TLS_ENTRY(tls_enter_write_membio, DIR_EGRESS, TLS_CALL_PLAIN, 1)
TLS_ENTRY(tls_enter_read_membio, DIR_INGRESS, TLS_CALL_PLAIN, 1)
TLS_ENTRY(tls_enter_write_ex_membio, DIR_EGRESS, TLS_CALL_EX, 1)
TLS_ENTRY(tls_enter_read_ex_membio, DIR_INGRESS, TLS_CALL_EX, 1)

SEC("uretprobe")
int tls_exit(struct pt_regs *ctx)
{
	return tls_return(ctx);
}

#if defined(__TARGET_ARCH_x86)
static __always_inline int go_enter(struct pt_regs *ctx, __u8 dir, __u8 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!pid_allowed(tgid))
		return 0;
	tls_proc_mark(tgid, TLS_PROC_GO);
	struct go_key k = { .tgid = tgid, .g = ctx->r14 };
	/* The handshake inside a Read or Write: the outer call owns its socket calls. */
	struct tls_call *outer = kind == TLS_CALL_CONTROL ? bpf_map_lookup_elem(&go_calls, &k) : 0;
	if (outer && outer->kind != TLS_CALL_CONTROL)
		return 0;
	/* A goroutine's stack growing re-enters the function from its start: the same call again.
	 * A Write's plaintext is emitted at its first send, not at its return: another goroutine
	 * may read the peer's answer (and emit it) before this one gets to its RET. Go's Write sends
	 * all of b or fails the connection. */
	struct tls_call c = { .ssl = ctx->ax, .buf = ctx->bx, .dir = dir, .kind = kind };
	if (dir == DIR_EGRESS && kind == TLS_CALL_PLAIN) {
		c.early = 1;
		c.count = ctx->cx;
	}
	if (bpf_map_update_elem(&go_calls, &k, &c, BPF_ANY))
		count(CNT_TLS_CALLS_FULL, 1);
	return 0;
}

SEC("uprobe")
int go_enter_write(struct pt_regs *ctx)
{
	return go_enter(ctx, DIR_EGRESS, TLS_CALL_PLAIN);
}

SEC("uprobe")
int go_enter_read(struct pt_regs *ctx)
{
	return go_enter(ctx, DIR_INGRESS, TLS_CALL_PLAIN);
}

/* (*Conn).handshakeContext: no plaintext; its socket calls bind the session (the request that
 * arrives with the handshake's last read is then returned by Read with no socket call). */
SEC("uprobe")
int go_enter_handshake(struct pt_regs *ctx)
{
	return go_enter(ctx, DIR_EGRESS, TLS_CALL_CONTROL);
}

/* At each RET of a hooked function: `control` says whether it is the handshake's. */
static __always_inline int go_return(struct pt_regs *ctx, __u8 control)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_key k = { .tgid = id >> 32, .g = ctx->r14 };
	struct tls_call *p = bpf_map_lookup_elem(&go_calls, &k);
	if (!p || (p->kind == TLS_CALL_CONTROL) != control)
		return 0; /* not ours: a handshake's end inside a Read or Write */
	struct tls_call c = *p;
	bpf_map_delete_elem(&go_calls, &k);
	long n = ctx->ax;
	return tls_finish(&c, id, !control && n > 0 ? n : 0);
}

SEC("uprobe")
int go_exit(struct pt_regs *ctx)
{
	return go_return(ctx, 0);
}

SEC("uprobe")
int go_exit_handshake(struct pt_regs *ctx)
{
	return go_return(ctx, 1);
}
#endif

#endif
