/* TCP socket life, shared by the tcp receiver's backends: the role of a connection from its
 * handshake (SYN_SENT: client, SYN_RECV: server) and its end.
 *
 * A connection ends when its socket is destroyed (tcp_destroy_sock), not when it reaches
 * TCP_CLOSE: while a process still holds the socket, bytes can follow TCP_CLOSE. A send the
 * peer answers with a reset moves the socket to TCP_CLOSE inside the sender's own call (on
 * loopback the reset is processed before the call returns), and that call still reports its
 * bytes as sent; data that arrived before a FIN or reset is read after it. The socket is
 * destroyed at TCP_CLOSE once no file refers to it (orphaned by close(2) or process exit), else
 * when the last file reference goes, which is after every call using it returned. */
#ifndef TCPSNIFF_TCP_STATE_H
#define TCPSNIFF_TCP_STATE_H

/* Emits the close record of the connection at sk, if one was captured, and forgets it. */
static __always_inline void tcp_conn_end(__u64 sk, __u8 backend)
{
	struct conn_state *cs = bpf_map_lookup_elem(&conns, &sk);
	if (!cs)
		return;
	emit_close(cs, backend);
	bpf_map_delete_elem(&conns, &sk);
}

static __always_inline int tcp_state_change(struct trace_event_raw_inet_sock_set_state *ctx, __u8 backend)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	__u64 sk = (__u64)ctx->skaddr;
	int state = ctx->newstate;
	if (state == TCP_SYN_SENT || state == TCP_SYN_RECV) {
		/* A socket disconnected (connect(AF_UNSPEC)) and connected again is a new connection. */
		tcp_conn_end(sk, backend);
		struct conn_state fresh = { .role = state == TCP_SYN_SENT ? ROLE_CLIENT : ROLE_SERVER };
		bpf_map_update_elem(&conns, &sk, &fresh, BPF_ANY);
	}
	return 0;
}

static __always_inline int tcp_destroyed(struct trace_event_raw_tcp_event_sk *ctx, __u8 backend)
{
	tcp_conn_end((__u64)ctx->skaddr, backend);
	return 0;
}

#endif
