/* SPDX-License-Identifier: GPL-2.0 */
/*
 * udprx FFI header: the kernel declarations the Rust side binds to (bindgen
 * reads this file with the kernel's own C flags), plus the few helpers in
 * shim.c for what Rust cannot call directly: static inline functions and
 * macros. No logic lives here.
 */
#ifndef UDPRX_SHIM_H
#define UDPRX_SHIM_H

#include <linux/ip.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>
#include <linux/skbuff.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/protocol.h>

/* net_generic() (inline): this netns's slot for a pernet id. */
void *udprx_net_generic(const struct net *net, unsigned int id);
/* net->proc_net: the netns's /proc/net directory. */
struct proc_dir_entry *udprx_net_proc_dir(struct net *net);
/* seq_file_single_net() (inline): the netns a proc_create_net_single() file belongs to. */
struct net *udprx_seq_file_single_net(struct seq_file *seq);
/* dev_net(skb->dev) (inline): the netns an skb arrived in. */
struct net *udprx_skb_net(const struct sk_buff *skb);
/* ip_hdr() (inline): the IPv4 header of an skb in the IP layer. */
const struct iphdr *udprx_ip_hdr(const struct sk_buff *skb);

#endif /* UDPRX_SHIM_H */
