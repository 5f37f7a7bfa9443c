// SPDX-License-Identifier: GPL-2.0
/*
 * udprx C shim: out-of-line copies of kernel inline functions and macros, so that Rust
 * can call them, and at the end, under their own heading, the few lines of kernel C that
 * udprx runs as the kernel has them. Nothing else belongs here.
 */
#include "shim.h"

/*
 * Like rust/helpers/, the shim can be inlined into Rust: with CONFIG_RUST_INLINE_HELPERS,
 * Kbuild compiles it to LLVM bitcode and links it into the Rust object before code
 * generation. __always_inline, as rust/helpers/helpers.c explains, gets past LLVM's
 * inlining checks, which C's and Rust's differing function attributes would otherwise
 * fail; the kernel's inline is gnu_inline, so an out-of-line definition is still emitted
 * for callers that do not inline. bindgen reads only shim.h, which has no inline.
 */
#define __udprx_shim __always_inline

__udprx_shim void *udprx_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

__udprx_shim struct net *udprx_seq_file_single_net(struct seq_file *seq)
{
	return seq_file_single_net(seq);
}

__udprx_shim struct net *udprx_skb_net(const struct sk_buff *skb)
{
	return dev_net(skb->dev);
}

__udprx_shim struct net *udprx_get_net(struct net *net)
{
	return get_net(net);
}

__udprx_shim void udprx_put_net(struct net *net)
{
	put_net(net);
}

__udprx_shim struct net *udprx_current_net(void)
{
	return current->nsproxy->net_ns;
}

__udprx_shim unsigned int udprx_skb_rt_flags(const struct sk_buff *skb)
{
	const struct rtable *rt = skb_rtable(skb);

	return rt ? rt->rt_flags : 0;
}

__udprx_shim bool udprx_pskb_may_pull(struct sk_buff *skb, unsigned int len)
{
	return pskb_may_pull(skb, len);
}

__udprx_shim int udprx_pskb_trim_rcsum(struct sk_buff *skb, unsigned int len)
{
	return pskb_trim_rcsum(skb, len);
}

__udprx_shim void udprx___skb_pull(struct sk_buff *skb, unsigned int len)
{
	__skb_pull(skb, len);
}

__udprx_shim void udprx_skb_clear_delivery_time(struct sk_buff *skb)
{
	skb_clear_delivery_time(skb);
}

__udprx_shim void udprx_skb_dst_drop(struct sk_buff *skb)
{
	skb_dst_drop(skb);
}

__udprx_shim unsigned int udprx_nf_conntrack_confirm(struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	return nf_conntrack_confirm(skb);
#else
	return NF_ACCEPT;
#endif
}

__udprx_shim bool udprx_in_compat_syscall(void)
{
	return in_compat_syscall();
}

__udprx_shim bool udprx_in_softirq(void)
{
	return in_softirq();
}

__udprx_shim void udprx_local_bh_disable(void)
{
	local_bh_disable();
}

__udprx_shim void udprx_local_bh_enable(void)
{
	local_bh_enable();
}

__udprx_shim void udprx_nf_reset_ct(struct sk_buff *skb)
{
	nf_reset_ct(skb);
}

__udprx_shim bool udprx_xfrm4_policy_check_in(struct sk_buff *skb)
{
	return xfrm4_policy_check(NULL, XFRM_POLICY_IN, skb);
}

__udprx_shim void udprx_icmp_send(struct sk_buff *skb, int type, int code)
{
	icmp_send(skb, type, code, 0);
}

__udprx_shim int udprx_skb_checksum_init_zero_check(struct sk_buff *skb, u8 proto, __sum16 check)
{
	return (__force int)skb_checksum_init_zero_check(skb, proto, check, inet_compute_pseudo);
}

__udprx_shim void udprx_skb_checksum_complete_unset(struct sk_buff *skb)
{
	skb_checksum_complete_unset(skb);
}

__udprx_shim bool udprx_skb_csum_unnecessary(const struct sk_buff *skb)
{
	return skb_csum_unnecessary(skb);
}

__udprx_shim bool udprx_copy_to_iter_full(const void *addr, size_t bytes, struct iov_iter *i)
{
	return copy_to_iter_full(addr, bytes, i);
}

__udprx_shim bool udprx_udp_lib_checksum_complete(struct sk_buff *skb)
{
	return udp_lib_checksum_complete(skb);
}

__udprx_shim void udprx_udp_csum_pull_header(struct sk_buff *skb)
{
	udp_csum_pull_header(skb);
}

__udprx_shim int udprx_sk_rcvbuf(const struct sock *sk)
{
	return READ_ONCE(sk->sk_rcvbuf);
}

__udprx_shim void udprx_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

__udprx_shim void udprx_sock_put(struct sock *sk)
{
	sock_put(sk);
}

__udprx_shim void udprx_sk_rmem_add(struct sock *sk, int delta)
{
	atomic_add(delta, &sk->sk_rmem_alloc);
}

__udprx_shim bool udprx_sk_has_filter(const struct sock *sk)
{
	return rcu_access_pointer(sk->sk_filter);
}

__udprx_shim int udprx_sock_setsockopt_user(struct socket *sock, int optname,
					    void __user *optval, unsigned int optlen)
{
	return do_sock_setsockopt(sock, in_compat_syscall(), SOL_SOCKET, optname,
				  USER_SOCKPTR(optval), optlen);
}

__udprx_shim int udprx_sock_setsockopt_int(struct socket *sock, int optname, int val)
{
	return do_sock_setsockopt(sock, in_compat_syscall(), SOL_SOCKET, optname,
				  KERNEL_SOCKPTR(&val), sizeof(val));
}

__udprx_shim void udprx_spin_lock_bh(spinlock_t *lock)
{
	spin_lock_bh(lock);
}

__udprx_shim void udprx_spin_unlock_bh(spinlock_t *lock)
{
	spin_unlock_bh(lock);
}

__udprx_shim bool udprx_spin_trylock_bh(spinlock_t *lock)
{
	return spin_trylock_bh(lock);
}

__udprx_shim void udprx_skb_orphan(struct sk_buff *skb)
{
	skb_orphan(skb);
}

__udprx_shim void __percpu *udprx_alloc_percpu(size_t size, size_t align)
{
	return __alloc_percpu(size, align);
}

__udprx_shim void udprx_this_cpu_add_u64(u64 __percpu *counters, size_t i, u64 v)
{
	this_cpu_add(counters[i], v);
}

__udprx_shim u64 udprx_per_cpu_u64(const u64 __percpu *counters, size_t i, unsigned int cpu)
{
	if (!cpu_possible(cpu))
		return 0;
	return READ_ONCE(*per_cpu_ptr(&counters[i], cpu));
}

__udprx_shim spinlock_t *udprx_sk_receive_queue_lock(struct sock *sk)
{
	return &sk->sk_receive_queue.lock;
}

__udprx_shim void udprx_sk_forward_alloc_add(struct sock *sk, int val)
{
	sk_forward_alloc_add(sk, val);
}

__udprx_shim udprx_data_ready_t udprx_sk_data_ready(const struct sock *sk)
{
	return READ_ONCE(sk->sk_data_ready);
}

__udprx_shim void udprx_sk_set_data_ready(struct sock *sk, udprx_data_ready_t data_ready)
{
	WRITE_ONCE(sk->sk_data_ready, data_ready);
}

__udprx_shim void udprx_sk_callback_lock(struct sock *sk)
{
	write_lock_bh(&sk->sk_callback_lock);
}

__udprx_shim void udprx_sk_callback_unlock(struct sock *sk)
{
	write_unlock_bh(&sk->sk_callback_lock);
}

__udprx_shim int udprx_sk_bound_dev_if(const struct sock *sk)
{
	return READ_ONCE(sk->sk_bound_dev_if);
}

__udprx_shim bool udprx_sk_recverr(const struct sock *sk)
{
	return inet_test_bit(RECVERR, sk);
}

__udprx_shim bool udprx_sk_has_user_data(const struct sock *sk)
{
	return rcu_access_pointer(sk->sk_user_data);
}

__udprx_shim void udprx_sk_set_user_data_nocopy(struct sock *sk, void *ptr)
{
	__rcu_assign_sk_user_data_with_flags(sk, ptr, SK_USER_DATA_NOCOPY);
}

__udprx_shim void udprx_sk_clear_user_data(struct sock *sk)
{
	rcu_assign_sk_user_data(sk, NULL);
}

__udprx_shim unsigned long udprx_file_count(struct file *file)
{
	return file_count(file);
}

__udprx_shim u16 udprx_sk_num(const struct sock *sk)
{
	return READ_ONCE(inet_sk(sk)->inet_num);
}

__udprx_shim __be32 udprx_sk_rcv_saddr(const struct sock *sk)
{
	return READ_ONCE(sk->sk_rcv_saddr);
}

__udprx_shim bool udprx_sk_reuse_any(const struct sock *sk)
{
	return sk->sk_reuse || sk->sk_reuseport;
}

__udprx_shim void udprx_sk_busy_poll_off(struct sock *sk)
{
#ifdef CONFIG_NET_RX_BUSY_POLL
	WRITE_ONCE(sk->sk_ll_usec, 0);
#endif
}

__udprx_shim struct net *udprx_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

__udprx_shim void udprx_icmp_inc_inerrors(struct net *net)
{
	__ICMP_INC_STATS(net, ICMP_MIB_INERRORS);
}

__udprx_shim void udprx_ip_inc_indelivers(struct net *net)
{
	__IP_INC_STATS(net, IPSTATS_MIB_INDELIVERS);
}

__udprx_shim void udprx_sk_unhash(struct sock *sk)
{
	sk->sk_prot->unhash(sk);
}

__udprx_shim int udprx_sk_rmem_alloc_get(const struct sock *sk)
{
	return sk_rmem_alloc_get(sk);
}

__udprx_shim u8 udprx_udp_encap_type(const struct sock *sk)
{
	return READ_ONCE(udp_sk(sk)->encap_type);
}

/*
 * Copied from Linux 7.3; keep in sync with the source named above each function.
 */

/*
 * include/net/udp.h, udp_unexpected_gso(), without its tunnel clause: that clause reads
 * the unexported udp_encap_needed_key and is false for a socket without encap_rcv, and a
 * backing socket has none (UDPRX_BIND refuses one with UDP_ENCAP set).
 */
__udprx_shim bool udprx_udp_unexpected_gso(struct sock *sk, struct sk_buff *skb)
{
	if (!skb_is_gso(skb))
		return false;
	if (skb_shinfo(skb)->gso_type & SKB_GSO_UDP_L4 && !udp_test_bit(ACCEPT_L4, sk))
		return true;
	if (skb_shinfo(skb)->gso_type & SKB_GSO_FRAGLIST && !udp_test_bit(ACCEPT_FRAGLIST, sk))
		return true;
	return false;
}

/* net/ipv4/udp.c, udp_queue_rcv_skb(): the split of an unexpected GSO skb. */
__udprx_shim struct sk_buff *udprx_udp_rcv_segment(struct sock *sk, struct sk_buff *skb)
{
	__skb_push(skb, -skb_mac_offset(skb));
	return udp_rcv_segment(sk, skb, true);
}

/* net/ipv4/udp.c, udp_queue_rcv_skb(): each segment, before it is queued. */
__udprx_shim void udprx_udp_segment_fixup(struct sk_buff *skb)
{
	__skb_pull(skb, skb_transport_offset(skb));
	udp_post_segment_fix_csum(skb);
}
