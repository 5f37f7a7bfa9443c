// SPDX-License-Identifier: GPL-2.0
/*
 * udprx_twin: the C twin of udprx's NF_INET_LOCAL_IN hook, built and loaded only by
 * `make bench`, as the yardstick for the Rust hook's cost on traffic it lets through.
 *
 * Per network namespace it registers the same hook at the same priority (NF_IP_PRI_LAST)
 * and does the same work per packet as rust/hook.rs: the IP protocol test, the netns's
 * state (the hook's priv), a per-CPU "seen" counter, the UDP destination port, a binary
 * search of an RCU-published sorted port table, and a per-CPU "accepted" counter. Its
 * table is empty: it owns no port and steals nothing.
 */
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

enum { TWIN_SEEN, TWIN_ACCEPTED, TWIN_OWNED, TWIN_MIB_MAX };

struct twin_ports {
	unsigned int n;
	u16 port[];	/* sorted */
};

struct twin_net {
	struct nf_hook_ops ops;
	struct twin_ports __rcu *ports;
	u64 __percpu *mib;
};

static unsigned int twin_net_id __read_mostly;

static bool twin_owns(const struct twin_ports *p, u16 port)
{
	unsigned int lo = 0, hi = p->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (p->port[mid] == port)
			return true;
		if (p->port[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static unsigned int twin_hook(void *priv, struct sk_buff *skb,
			      const struct nf_hook_state *state)
{
	struct twin_net *tn = priv;
	const struct twin_ports *ports;
	const struct udphdr *uh;
	struct udphdr buf;
	bool owned = false;

	if (ip_hdr(skb)->protocol != IPPROTO_UDP)
		return NF_ACCEPT;
	this_cpu_inc(tn->mib[TWIN_SEEN]);
	rcu_read_lock();
	uh = skb_header_pointer(skb, ip_hdrlen(skb), sizeof(buf), &buf);
	ports = rcu_dereference(tn->ports);
	if (uh && ports)
		owned = twin_owns(ports, ntohs(uh->dest));
	rcu_read_unlock();
	this_cpu_inc(tn->mib[owned ? TWIN_OWNED : TWIN_ACCEPTED]);
	return NF_ACCEPT;
}

static int __net_init twin_net_init(struct net *net)
{
	struct twin_net *tn = net_generic(net, twin_net_id);
	struct twin_ports *empty;
	int err;

	tn->mib = (u64 __percpu *)__alloc_percpu(sizeof(u64) * TWIN_MIB_MAX, sizeof(u64));
	if (!tn->mib)
		return -ENOMEM;
	empty = kzalloc(sizeof(*empty), GFP_KERNEL);
	if (!empty) {
		free_percpu(tn->mib);
		return -ENOMEM;
	}
	RCU_INIT_POINTER(tn->ports, empty);
	tn->ops = (struct nf_hook_ops){
		.hook = twin_hook,
		.priv = tn,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_IN,
		.priority = NF_IP_PRI_LAST,
	};
	err = nf_register_net_hook(net, &tn->ops);
	if (err) {
		kfree(empty);
		free_percpu(tn->mib);
	}
	return err;
}

static void __net_exit twin_net_exit(struct net *net)
{
	struct twin_net *tn = net_generic(net, twin_net_id);

	nf_unregister_net_hook(net, &tn->ops);
	/*
	 * nf_unregister_net_hook() frees the old hook entries by RCU but does not wait for a
	 * hook still running on another CPU; wait before freeing what it reads (tn itself,
	 * its priv, goes after exit).
	 */
	synchronize_net();
	kfree(rcu_dereference_protected(tn->ports, true));
	free_percpu(tn->mib);
}

static struct pernet_operations twin_net_ops = {
	.init = twin_net_init,
	.exit = twin_net_exit,
	.id = &twin_net_id,
	.size = sizeof(struct twin_net),
};

static int __init twin_init(void)
{
	return register_pernet_subsys(&twin_net_ops);
}

static void __exit twin_exit(void)
{
	unregister_pernet_subsys(&twin_net_ops);
}

module_init(twin_init);
module_exit(twin_exit);
MODULE_DESCRIPTION("udprx benchmark: the C twin of udprx's NF_INET_LOCAL_IN hook");
MODULE_LICENSE("GPL");
