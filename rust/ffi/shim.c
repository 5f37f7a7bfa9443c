// SPDX-License-Identifier: GPL-2.0
/*
 * udprx C shim: out-of-line copies of kernel inline functions and macros,
 * so that Rust can call them. Nothing else belongs here.
 */
#include "shim.h"

void *udprx_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

struct proc_dir_entry *udprx_net_proc_dir(struct net *net)
{
	return net->proc_net;
}

struct net *udprx_seq_file_single_net(struct seq_file *seq)
{
	return seq_file_single_net(seq);
}

struct net *udprx_skb_net(const struct sk_buff *skb)
{
	return dev_net(skb->dev);
}

const struct iphdr *udprx_ip_hdr(const struct sk_buff *skb)
{
	return ip_hdr(skb);
}
