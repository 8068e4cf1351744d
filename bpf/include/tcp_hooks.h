/* The capture.h hooks for TCP sockets, shared by the tcp receiver's backends. */
#ifndef TCPSNIFF_TCP_HOOKS_H
#define TCPSNIFF_TCP_HOOKS_H

static __always_inline void capture_endpoints(struct sock *sk, struct rec_hdr *h)
{
	read_endpoints(sk, h);
}

/* A TCP socket's entry is removed when it is destroyed or connected again (tcp_state.h): no
 * identity check needed. */
static __always_inline __u64 capture_ident(struct sock *sk)
{
	return 0;
}

static __always_inline int capture_allowed(const struct rec_hdr *h)
{
	return endpoints_allowed(h);
}

static __always_inline void capture_announce(struct sock *sk, const struct rec_hdr *h)
{
}

#endif
