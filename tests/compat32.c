// SPDX-License-Identifier: GPL-2.0
/*
 * A 32-bit caller of /dev/udprx (built with gcc -m32 by tests/compat.sh): every ioctl of
 * include/uapi/udprx.h as a 32-bit program encodes it, then three reads.
 *
 *   compat32 PORT    prints "bound" once bound, then "read N" per datagram; exit 0 when
 *                    every ioctl did what it should.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <linux/filter.h>
#include "udprx.h"

static int fail(const char *what)
{
	printf("compat32: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	/* ld len; jgt #108, drop; ret #-1; drop: ret #0 (drops datagrams over 100 bytes). */
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 108, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog fp = { .len = 4, .filter = prog };
	struct udprx_rcvbuf rb = { .val = 65536 };
	__u32 policy = UDPRX_POLICY_MODERN;
	struct udprx_info info;
	struct udprx_bind b;
	struct sockaddr_in sin;
	char buf[2048];
	int fd, sfd, i;

	if (argc != 2 || sizeof(void *) != 4 || sizeof(fp) != 8) {
		printf("compat32: usage: compat32 PORT, built with -m32\n");
		return 1;
	}
	fd = open(UDPRX_DEVICE_PATH, O_RDWR);
	if (fd < 0)
		return fail("open");
	if (ioctl(fd, UDPRX_SET_POLICY, &policy))
		return fail("UDPRX_SET_POLICY");
	if (ioctl(fd, UDPRX_SET_RCVBUF, &rb))
		return fail("UDPRX_SET_RCVBUF");
	if (ioctl(fd, UDPRX_DETACH_FILTER) == 0 || errno != ENOENT)
		return fail("UDPRX_DETACH_FILTER with none attached (want ENOENT)");
	if (ioctl(fd, UDPRX_ATTACH_FILTER, &fp))
		return fail("UDPRX_ATTACH_FILTER");
	memset(&b, 0, sizeof(b));
	b.port = atoi(argv[1]);
	sfd = ioctl(fd, UDPRX_SOCKET);
	if (sfd < 0)
		return fail("UDPRX_SOCKET");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(b.port);
	if (bind(sfd, (struct sockaddr *)&sin, sizeof(sin)))
		return fail("bind(2) of the backing socket");
	close(sfd);
	if (ioctl(fd, UDPRX_BIND, &b))
		return fail("UDPRX_BIND");
	if (ioctl(fd, UDPRX_HOLD) || ioctl(fd, UDPRX_RELEASE))
		return fail("UDPRX_HOLD/UDPRX_RELEASE");
	if (ioctl(fd, UDPRX_INFO, &info))
		return fail("UDPRX_INFO");
	if (info.port != b.port || info.policy != UDPRX_POLICY_MODERN || info.rcvbuf < 65536) {
		printf("compat32: UDPRX_INFO: port %u policy %u rcvbuf %u\n", info.port,
		       info.policy, info.rcvbuf);
		return 1;
	}
	printf("bound\n");
	fflush(stdout);
	for (i = 0; i < 3; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0)
			return fail("read");
		printf("read %zd\n", n);
		fflush(stdout);
	}
	return 0;
}
