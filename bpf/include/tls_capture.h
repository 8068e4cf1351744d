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
 * call pushed (x86), or equal to it (arm64): a lower one is the return of a nested call. */
#if defined(__TARGET_ARCH_x86)
#define RET_SP_ABOVE_ENTRY 8
#else
#define RET_SP_ABOVE_ENTRY 0
#endif

struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 count_ptr; /* TLS_CALL_EX: where the library writes the byte count */
	__u64 sp;        /* stack pointer at entry: tells nested calls and stale entries apart */
	__u64 sk;        /* the socket a syscall inside the call moved bytes on (0: none yet) */
	__u8 dir;        /* enum rec_direction */
	__u8 kind;       /* enum tls_call_kind */
	__u8 ambiguous;  /* a second socket was seen */
	__u8 backend;    /* of the capture that saw the socket */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct tls_call);
} tls_calls SEC(".maps");

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

/* Called for every captured transfer on a TCP socket: 1 when it is ciphertext of a TLS session
 * (inside a TLS call of this thread, or on a connection bound before), which is not captured. */
static __always_inline int tls_claims(struct sock *sk, struct conn_state *cs, __u8 backend)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *c = bpf_map_lookup_elem(&tls_calls, &id);
	if (c) {
		if (!c->sk) {
			c->sk = (__u64)sk;
			c->backend = backend;
		} else if (c->sk != (__u64)sk) {
			c->ambiguous = 1;
		}
		cs->tls = 1;
		return 1;
	}
	return cs->tls;
}

static __always_inline int tls_enter(struct pt_regs *ctx, __u8 dir, __u8 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (!pid_allowed(id >> 32))
		return 0;
	__u64 sp = PT_REGS_SP(ctx);
	struct tls_call *cur = bpf_map_lookup_elem(&tls_calls, &id);
	/* Called from inside another TLS call of this thread (SSL_connect → SSL_do_handshake): the
	 * outer call owns the syscalls. An entry at or below our stack pointer is a call whose
	 * return was never seen (the thread left it another way): replaced. */
	if (cur && cur->sp > sp)
		return 0;
	struct tls_call c = {
		.ssl = PT_REGS_PARM1(ctx),
		.buf = PT_REGS_PARM2(ctx),
		.count_ptr = kind == TLS_CALL_EX ? PT_REGS_PARM4(ctx) : 0,
		.sp = sp,
		.dir = dir,
		.kind = kind,
	};
	if (bpf_map_update_elem(&tls_calls, &id, &c, BPF_ANY))
		count(CNT_TLS_CALLS_FULL, 1);
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

static __always_inline int tls_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call *p = bpf_map_lookup_elem(&tls_calls, &id);
	if (!p || PT_REGS_SP(ctx) < p->sp + RET_SP_ABOVE_ENTRY)
		return 0; /* not ours, or a nested call's return */
	struct tls_call c = *p;
	bpf_map_delete_elem(&tls_calls, &id);
	__u64 n = tls_moved(&c, (int)PT_REGS_RC(ctx));
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
			count(CNT_TLS_UNBOUND, 1);
			count(CNT_TLS_UNBOUND_BYTES, n);
			if (b)
				bpf_map_delete_elem(&tls_bindings, &key);
			return 0;
		}
		backend = b->backend;
	}
	if (!n || !cs->capture)
		return 0;

	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_buf, &zero);
	if (!s)
		return 0;
	struct rec_hdr *h = &s->h;
	h->version = REC_VERSION;
	h->kind = REC_DATA;
	h->direction = c.dir;
	h->backend = backend;
	h->flags = REC_FLAG_TLS;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->reserved = 0;
	header_endpoints(h, cs);
	header_sender(h, cs);
	report_process(h);
	capture_payload(s, &cs->tls_offset[c.dir & 1], BUF_PLAIN, c.buf, 0, 0, n);
	return 0;
}

/* ---- the uprobes; user space attaches them per library file (src/receivers/tls) ---- */

SEC("uprobe")
int tls_enter_write(struct pt_regs *ctx)
{
	return tls_enter(ctx, DIR_EGRESS, TLS_CALL_PLAIN);
}

SEC("uprobe")
int tls_enter_read(struct pt_regs *ctx)
{
	return tls_enter(ctx, DIR_INGRESS, TLS_CALL_PLAIN);
}

SEC("uprobe")
int tls_enter_write_ex(struct pt_regs *ctx)
{
	return tls_enter(ctx, DIR_EGRESS, TLS_CALL_EX);
}

SEC("uprobe")
int tls_enter_read_ex(struct pt_regs *ctx)
{
	return tls_enter(ctx, DIR_INGRESS, TLS_CALL_EX);
}

SEC("uprobe")
int tls_enter_control(struct pt_regs *ctx)
{
	return tls_enter(ctx, DIR_EGRESS, TLS_CALL_CONTROL);
}

SEC("uretprobe")
int tls_exit(struct pt_regs *ctx)
{
	return tls_return(ctx);
}

#endif
