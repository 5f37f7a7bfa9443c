/* SPDX-License-Identifier: GPL-2.0 */
/*
 * udprx FFI header: the kernel declarations the Rust side binds to (bindgen
 * reads this file with the kernel's own C flags), plus the few helpers in
 * shim.c for what Rust cannot call directly: static inline functions and
 * macros. No logic lives here.
 */
#ifndef UDPRX_SHIM_H
#define UDPRX_SHIM_H

#include <linux/fs.h>
#include <linux/ip.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/udp.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <linux/skbuff.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_core.h>
#include <net/protocol.h>
#include <net/route.h>
#include <net/sock.h>
#include <linux/filter.h>
#include <linux/bottom_half.h>
#include <linux/percpu.h>
#include <net/udp.h>
#include <net/xfrm.h>

/* net_generic() (inline): this netns's slot for a pernet id. */
void *udprx_net_generic(const struct net *net, unsigned int id);
/* seq_file_single_net() (inline): the netns a proc_create_net_single() file belongs to. */
struct net *udprx_seq_file_single_net(struct seq_file *seq);
/* dev_net(skb->dev) (inline): the netns an skb arrived in. */
struct net *udprx_skb_net(const struct sk_buff *skb);

/* get_net() / put_net() (inline): take and drop a reference on a netns. */
struct net *udprx_get_net(struct net *net);
void udprx_put_net(struct net *net);
/* current->nsproxy->net_ns (macro + fields): the caller's netns. */
struct net *udprx_current_net(void);

/* skb_rtable(skb)->rt_flags (inline): RTCF_BROADCAST, RTCF_MULTICAST, ...; 0 without a route. */
unsigned int udprx_skb_rt_flags(const struct sk_buff *skb);

/* Inline skb operations of the receive path. */
bool udprx_pskb_may_pull(struct sk_buff *skb, unsigned int len);
int udprx_pskb_trim_rcsum(struct sk_buff *skb, unsigned int len);
void udprx___skb_pull(struct sk_buff *skb, unsigned int len);
void udprx_skb_clear_delivery_time(struct sk_buff *skb);
void udprx_skb_dst_drop(struct sk_buff *skb);
void udprx_nf_reset_ct(struct sk_buff *skb);
/* nf_conntrack_confirm() (inline): the verdict of confirming the skb's conntrack entry. */
unsigned int udprx_nf_conntrack_confirm(struct sk_buff *skb);
/* in_compat_syscall() (inline). */
bool udprx_in_compat_syscall(void);
/* in_softirq() (bottom halves disabled or serving), local_bh_disable(), local_bh_enable(). */
bool udprx_in_softirq(void);
void udprx_local_bh_disable(void);
void udprx_local_bh_enable(void);
/* xfrm4_policy_check(NULL, XFRM_POLICY_IN, skb) (inline). */
bool udprx_xfrm4_policy_check_in(struct sk_buff *skb);
/* icmp_send(skb, type, code, 0) (inline). */
void udprx_icmp_send(struct sk_buff *skb, int type, int code);

/* Checksum helpers (inline or macros). */
/* skb_checksum_init_zero_check(skb, proto, check, inet_compute_pseudo) (macro). */
int udprx_skb_checksum_init_zero_check(struct sk_buff *skb, u8 proto, __sum16 check);
void udprx_skb_checksum_complete_unset(struct sk_buff *skb);
bool udprx_skb_csum_unnecessary(const struct sk_buff *skb);
/* copy_to_iter_full() (inline): copy_linear_skb()'s copy of a linear skb's data. */
bool udprx_copy_to_iter_full(const void *addr, size_t bytes, struct iov_iter *i);
/* udp_lib_checksum_complete() (inline): true when the checksum is bad. */
bool udprx_udp_lib_checksum_complete(struct sk_buff *skb);
/* udp_csum_pull_header() (inline). */
void udprx_udp_csum_pull_header(struct sk_buff *skb);

/* READ_ONCE(sk->sk_rcvbuf) (struct sock is opaque to Rust). */
int udprx_sk_rcvbuf(const struct sock *sk);
/* READ_ONCE(udp_sk(sk)->encap_type) (udp_sk() is inline): UDP_ENCAP_*, 0 for none. */
u8 udprx_udp_encap_type(const struct sock *sk);

/* The socket that backs a udprx socket (a kernel UDP socket). */
/* sock_hold() / sock_put() (inline). */
void udprx_sock_hold(struct sock *sk);
void udprx_sock_put(struct sock *sk);
/* atomic_add(delta, &sk->sk_rmem_alloc) (a field of an opaque struct). */
void udprx_sk_rmem_add(struct sock *sk, int delta);
/* sk_rmem_alloc_get() (inline). */
int udprx_sk_rmem_alloc_get(const struct sock *sk);
/* &sk->sk_receive_queue.lock (struct sock is opaque to the kernel crate's bindings). */
spinlock_t *udprx_sk_receive_queue_lock(struct sock *sk);
/* sk_forward_alloc_add() (inline); the caller holds sk_receive_queue.lock. */
void udprx_sk_forward_alloc_add(struct sock *sk, int val);
/* The type of sk->sk_data_ready. */
typedef void (*udprx_data_ready_t)(struct sock *sk);
/* READ_ONCE(sk->sk_data_ready). */
udprx_data_ready_t udprx_sk_data_ready(const struct sock *sk);
/* WRITE_ONCE(sk->sk_data_ready, data_ready); the caller holds sk_callback_lock. */
void udprx_sk_set_data_ready(struct sock *sk, udprx_data_ready_t data_ready);
/* write_lock_bh() / write_unlock_bh() of sk->sk_callback_lock (macros). */
void udprx_sk_callback_lock(struct sock *sk);
void udprx_sk_callback_unlock(struct sock *sk);
/* READ_ONCE(sk->sk_bound_dev_if): the device SO_BINDTODEVICE bound it to, 0 for none. */
int udprx_sk_bound_dev_if(const struct sock *sk);
/* inet_test_bit(RECVERR, sk) (a macro): IP_RECVERR is set. */
bool udprx_sk_recverr(const struct sock *sk);
/* rcu_access_pointer(sk->sk_user_data) != NULL (a macro). */
bool udprx_sk_has_user_data(const struct sock *sk);
/* __rcu_assign_sk_user_data_with_flags(sk, ptr, SK_USER_DATA_NOCOPY) (a macro); the
 * caller holds sk_callback_lock. */
void udprx_sk_set_user_data_nocopy(struct sock *sk, void *ptr);
/* rcu_assign_sk_user_data(sk, NULL) (a macro); the caller holds sk_callback_lock. */
void udprx_sk_clear_user_data(struct sock *sk);
/* file_count() (a macro over the inline file_ref_read()). */
unsigned long udprx_file_count(struct file *file);
/* inet_sk(sk)->inet_num (inet_sk() is inline): the bound local port. */
u16 udprx_sk_num(const struct sock *sk);
/* READ_ONCE(sk->sk_rcv_saddr): the bound local address. */
__be32 udprx_sk_rcv_saddr(const struct sock *sk);
/* sk->sk_reuse || sk->sk_reuseport: SO_REUSEADDR or SO_REUSEPORT (bitfields). */
bool udprx_sk_reuse_any(const struct sock *sk);
/* WRITE_ONCE(sk->sk_ll_usec, 0): no busy polling (a field only with NET_RX_BUSY_POLL). */
void udprx_sk_busy_poll_off(struct sock *sk);
/* sock_net() (inline). */
struct net *udprx_sock_net(const struct sock *sk);
/* __ICMP_INC_STATS(net, ICMP_MIB_INERRORS) (a macro over per-CPU counters). */
void udprx_icmp_inc_inerrors(struct net *net);
/* __IP_INC_STATS(net, IPSTATS_MIB_INDELIVERS) (a macro over per-CPU counters). */
void udprx_ip_inc_indelivers(struct net *net);
/* sk->sk_prot->unhash(sk) (a field of an opaque struct). */
void udprx_sk_unhash(struct sock *sk);
/* sk->sk_filter != NULL (rcu_access_pointer(), a macro). */
bool udprx_sk_has_filter(const struct sock *sk);
/*
 * do_sock_setsockopt(sock, in_compat_syscall(), SOL_SOCKET, optname, USER_SOCKPTR(optval),
 * optlen), as setsockopt(2) calls it (USER_SOCKPTR and in_compat_syscall are inline).
 */
int udprx_sock_setsockopt_user(struct socket *sock, int optname, void __user *optval,
			       unsigned int optlen);
/* The same with an int in kernel memory (KERNEL_SOCKPTR(&val)). */
int udprx_sock_setsockopt_int(struct socket *sock, int optname, int val);
/* spin_lock_bh() / spin_unlock_bh() / spin_trylock_bh() (inline). */
void udprx_spin_lock_bh(spinlock_t *lock);
void udprx_spin_unlock_bh(spinlock_t *lock);
bool udprx_spin_trylock_bh(spinlock_t *lock);

/* skb_orphan() (inline): drop the socket reference early demux may have left in skb->sk. */
void udprx_skb_orphan(struct sk_buff *skb);
/* Copied from Linux 7.3 (shim.c says from where): */
/* udp_unexpected_gso() (inline) for a socket without encap_rcv. */
bool udprx_udp_unexpected_gso(struct sock *sk, struct sk_buff *skb);
/* What udp_queue_rcv_skb() does to an unexpected GSO skb (inlines): __skb_push() back to
 * the MAC header, then udp_rcv_segment(): the segments linked by ->next, or NULL (the skb
 * is then freed and counted, as udp_rcv_segment() does). */
struct sk_buff *udprx_udp_rcv_segment(struct sock *sk, struct sk_buff *skb);
/* Each segment: __skb_pull() to the UDP header, udp_post_segment_fix_csum() (inlines). */
void udprx_udp_segment_fixup(struct sk_buff *skb);

/* Per-CPU counters (macros): __alloc_percpu(size, align) (GFP_KERNEL, zeroed), this_cpu_add(counters[i], v), and one CPU's copy of
 * counters[i] (per_cpu_ptr(); 0 for a CPU that is not possible). */
void __percpu *udprx_alloc_percpu(size_t size, size_t align);
void udprx_this_cpu_add_u64(u64 __percpu *counters, size_t i, u64 v);
u64 udprx_per_cpu_u64(const u64 __percpu *counters, size_t i, unsigned int cpu);

/*
 * Constants whose macros bindgen cannot evaluate (casts to __poll_t), as the
 * kernel's bindings_helper.h exports its RUST_CONST_HELPER_* values.
 */
const __poll_t UDPRX_EPOLLIN = EPOLLIN;
const __poll_t UDPRX_EPOLLRDNORM = EPOLLRDNORM;

#endif /* UDPRX_SHIM_H */
