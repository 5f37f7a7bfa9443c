/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/udprx: the C view of udprx's ioctl ABI.
 *
 * Each open file of /dev/udprx is one udprx socket. The Rust definitions are in
 * crates/abi/src/ioctl.rs (compiled into the module and the tools); a host test compiles
 * this header and checks that every size, offset and number below is theirs.
 */
#ifndef _UAPI_UDPRX_H
#define _UAPI_UDPRX_H

#include <linux/filter.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define UDPRX_DEVICE_PATH "/dev/udprx"

/*
 * Binding: fd = ioctl(UDPRX_SOCKET) gives a descriptor of the socket's backing UDP
 * socket; bind(fd) to 0.0.0.0:port with bind(2), as any UDP socket (LSMs, cgroup bind
 * programs and CAP_NET_BIND_SERVICE decide); close(fd); then ioctl(UDPRX_BIND).
 */
struct udprx_bind {
	__u16 port;		/* the port bound with bind(2), or 0 */
	__u16 flags;		/* 0 */
	__u32 reserved;		/* 0 */
};

/* UDPRX_SET_RCVBUF: as SO_RCVBUF, or SO_RCVBUFFORCE with UDPRX_RCVBUF_FORCE. */
struct udprx_rcvbuf {
	__s32 val;
	__u32 flags;
};
#define UDPRX_RCVBUF_FORCE	1

/* UDPRX_SET_POLICY values. */
#define UDPRX_POLICY_CLASSIC	0	/* the rules of Linux 3.13 */
#define UDPRX_POLICY_MODERN	1	/* the rules of the running kernel (the default) */

/* UDPRX_INFO: the accounting state. */
struct udprx_info {
	__u32 rcvbuf;		/* sk_rcvbuf */
	__u32 rmem_alloc;	/* sk_rmem_alloc */
	__u32 backlog_len;	/* bytes on the backlog */
	__u32 backlog_count;	/* datagrams on the backlog */
	__u32 queued;		/* datagrams on the receive queue */
	__u32 policy;		/* UDPRX_POLICY_* */
	__u32 held;		/* 1 while held (UDPRX_HOLD) */
	__u32 forward_deficit;	/* 7.3: bytes read but still charged */
	__u64 drops;		/* sk_drops */
	__s64 forward_alloc;	/* 7.3: sk_forward_alloc */
	__u32 port;		/* bound port, 0 if none */
	__u32 reserved;		/* 0 */
};

#define UDPRX_BIND		_IOW('U', 1, struct udprx_bind)
#define UDPRX_SET_RCVBUF	_IOW('U', 2, struct udprx_rcvbuf)
#define UDPRX_SET_POLICY	_IOW('U', 3, __u32)
#define UDPRX_HOLD		_IO('U', 4)
#define UDPRX_RELEASE		_IO('U', 5)
#define UDPRX_INFO		_IOR('U', 6, struct udprx_info)
/* A 32-bit caller's struct sock_fprog is 8 bytes: this number is then another, also accepted. */
#define UDPRX_ATTACH_FILTER	_IOW('U', 7, struct sock_fprog)
#define UDPRX_DETACH_FILTER	_IO('U', 8)
#define UDPRX_SOCKET		_IO('U', 9)

#endif /* _UAPI_UDPRX_H */
