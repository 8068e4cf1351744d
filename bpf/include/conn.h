/* Connection table: one entry per TCP socket the collector has seen, keyed by the kernel's
 * struct sock pointer. The entry gives the socket a stable identity (conn_id, never reused
 * within a run, unlike pid+fd), its role, and the byte offset reached in each direction. */
#ifndef TCPSNIFF_CONN_H
#define TCPSNIFF_CONN_H

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* A connection's endpoints as its records carry them (struct rec_hdr), read from the socket once,
 * at first sight: they do not change while the socket lives (a TCP socket connected again
 * passes through a new handshake, which ends the entry: tcp_state.h). */
struct conn_endpoints {
	__u8 family;
	__u8 pad;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

struct conn_state {
	__u64 conn_id;            /* 0 until the first captured syscall */
	__u64 offset[2];          /* indexed by enum rec_direction */
	__u64 ident;              /* which socket lives at this address (capture_ident): a freed socket's
	                           * entry must not be inherited by the next one allocated there */
	__u8 role;                /* enum rec_role, learned from the handshake */
	__u8 capture;             /* endpoint filters passed (decided at first capture) */
	__u8 muted;               /* user space stopped it after its first records: it still gets a close */
	struct conn_endpoints ep; /* set at first capture */
	__u32 mute_gen;           /* mute_generation when muted_conns was last looked at for it */
	__u8 tls;                 /* a TLS session runs on it: its bytes are ciphertext, not captured (tls_capture.h) */
	__u64 tls_offset[2];      /* byte offsets reached in the plaintext streams */
	__u64 tls_ssl;            /* the session bound by a length rule (memory-BIO runtimes): one per socket */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* Per-CPU sequence for conn_id: (cpu << 40) | sequence, unique for the life of the collector
 * (and below 2^53 for up to 8192 CPUs, so JavaScript numbers hold it exactly)
 * without atomic fetch-add (which old kernels lack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} conn_seq SEC(".maps");

static __always_inline __u64 next_conn_id(void)
{
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&conn_seq, &zero);
	if (!seq)
		return 0;
	*seq += 1;
	return ((__u64)bpf_get_smp_processor_id() << 40) | *seq;
}

/* Fills family, ports and addresses of the header from the socket. */
static __always_inline void read_endpoints(struct sock *sk, struct rec_hdr *h)
{
	h->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	h->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	h->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (h->family == AF_INET) {
		bpf_core_read(h->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(h->raddr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(h->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(h->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

#endif
