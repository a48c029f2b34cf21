/* vnet's CNI plugin, its fast path compiled (`vnet cni install` builds it
 * when a C compiler is there): what client.py does, without a Python start.
 * It hands the call to the warm vnet of this installation (vnet.cni.server,
 * socket STATE_DIR/cni-VNET_BUILD.sock): its environment and namespaces,
 * and its stdin, stdout and stderr (SCM_RIGHTS); the server's child runs
 * the command on them, and this exits with the status it answers.
 *
 * Anything else is the Python plugin's, installed beside this executable
 * as VNET_FALLBACK and exec'd with the same arguments and environment: no
 * CNI_COMMAND (the `vnet` command), VNET_CNI_SERVER=0, no server to talk
 * to (it starts one), a call the server declines (another namespace), or
 * any failure before the call is handed over. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef VNET_BUILD
#error "VNET_BUILD: the installation's id, as the Python plugin names its server"
#endif
#ifndef VNET_FALLBACK
#define VNET_FALLBACK ".vnet-python"
#endif
#define MAGIC "VNETCNI1"

extern char **environ;

static void fallback(char **argv)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - sizeof VNET_FALLBACK - 1);
	char *slash;
	if (n > 0) {
		path[n] = 0;
		slash = strrchr(path, '/');
		if (slash) {
			strcpy(slash + 1, VNET_FALLBACK);
			execv(path, argv);
		}
	}
	/* the spec's error object on stdout, where the runtime reads it */
	printf("{\"cniVersion\": \"1.1.0\", \"code\": 999, \"msg\": \"vnet: cannot run the plugin %s beside "
	       "this executable: %s\"}\n", VNET_FALLBACK, strerror(errno));
	fprintf(stderr, "vnet cni: cannot run %s: %s\n", VNET_FALLBACK, strerror(errno));
	exit(1);
}

/* MAGIC, our network and mount namespaces ("net:mnt" inode numbers, as
 * client.identity), a newline, the environment's entries joined by NULs */
static char *request(size_t *len)
{
	struct stat net, mnt;
	char ident[64] = "";
	size_t n, size = 0;
	char **e, *buf, *p;
	int first = 1;
	if (stat("/proc/self/ns/net", &net) == 0 && stat("/proc/self/ns/mnt", &mnt) == 0)
		snprintf(ident, sizeof ident, "%lu:%lu", (unsigned long)net.st_ino, (unsigned long)mnt.st_ino);
	for (e = environ; *e; e++)
		size += strlen(*e) + 1;
	buf = malloc(4 + sizeof MAGIC + sizeof ident + size + 1);
	if (!buf)
		return NULL;
	p = buf + 4;
	p += sprintf(p, "%s%s\n", MAGIC, ident);
	for (e = environ; *e; e++) {
		if (!strchr(*e, '='))
			continue;
		if (!first)
			*p++ = 0;
		first = 0;
		n = strlen(*e);
		memcpy(p, *e, n);
		p += n;
	}
	n = p - buf - 4;
	buf[0] = n & 0xff, buf[1] = (n >> 8) & 0xff, buf[2] = (n >> 16) & 0xff, buf[3] = (n >> 24) & 0xff;
	*len = p - buf;
	return buf;
}

static int send_all(int s, char *buf, size_t len)
{
	int fds[3] = {0, 1, 2};
	char control[CMSG_SPACE(sizeof fds)];
	struct iovec iov = {buf, len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = sizeof control};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;
	memset(control, 0, sizeof control);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	do
		n = sendmsg(s, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	while ((size_t)n < len) {   /* the rest, without the fds */
		ssize_t m = send(s, buf + n, len - n, MSG_NOSIGNAL);
		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0)
			return -1;
		n += m;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = getenv("CNI_COMMAND"), *off = getenv("VNET_CNI_SERVER");
	const char *dir = getenv("VNET_STATE_DIR");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	unsigned char answer[4];
	size_t len, got = 0;
	char *buf;
	int s;
	(void)argc;
	if (!cmd || (off && strcmp(off, "0") == 0))
		fallback(argv);
	if (!dir)
		dir = "/run/vnet";
	if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/cni-%s.sock", dir, VNET_BUILD)
	    >= sizeof addr.sun_path)
		fallback(argv);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0)
		fallback(argv);   /* no warm vnet: the Python plugin runs the call and starts one */
	buf = request(&len);
	if (!buf || send_all(s, buf, len) < 0)
		fallback(argv);   /* nothing was handed over */
	while (got < sizeof answer) {
		ssize_t n = recv(s, answer + got, sizeof answer - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;   /* the server's child died mid-call: a failed call (the runtime's DEL cleans up) */
		got += n;
	}
	{
		int32_t status = (int32_t)((uint32_t)answer[0] | (uint32_t)answer[1] << 8 | (uint32_t)answer[2] << 16 |
					   (uint32_t)answer[3] << 24);
		if (status == -1) {   /* declined (another namespace): the Python plugin runs it here */
			close(s);
			fallback(argv);
		}
		return status;
	}
}
