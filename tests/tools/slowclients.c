/* A slow-client attacker for tests and benchmarks: holds TRICKLE connections that send one
 * byte of a request every INTERVAL ms and IDLE connections that send nothing, from one source
 * address or spread over many, reconnecting whatever the server closes, for SECONDS. Prints
 * what the server did to them as one line of key=value pairs.
 *
 * usage: forja_slowclients HOST PORT SOURCES TRICKLE IDLE INTERVAL_MS SECONDS
 *   SOURCES: 127.0.0.2 (one address) or 127.0.1.1+200 (200 addresses from 127.0.1.1 up)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char request[] =
    "GET /healthz HTTP/1.1\r\nHost: forja\r\nUser-Agent: slow\r\n"
    "X-Padding-0: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
    "X-Padding-1: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
    "X-Padding-2: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";

struct slot {
	int fd;
	int trickle; /* 1: sends a byte each interval; 0: idle */
	size_t sent; /* bytes of REQUEST sent */
	int64_t opened_ms;
	int64_t next_ms;
	int64_t closed_ms; /* reconnects an interval after the server closed it */
	int connected;
};

struct stats {
	long opened, refused_503, cut, connect_failed;
	int64_t max_life_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int slot_open(struct slot *s, const struct sockaddr_in *dst, uint32_t src)
{
	struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(src)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (const struct sockaddr *)&from, sizeof(from)) ||
	    (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->sent = 0;
	s->connected = 0;
	s->opened_ms = now_ms();
	s->next_ms = s->opened_ms;
	return 0;
}

/* The server answered or closed: note what, and free the slot for a reconnect. */
static void slot_closed(struct slot *s, struct stats *st)
{
	char buf[512];
	ssize_t n = recv(s->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n > 0) {
		buf[n] = '\0';
		if (!strncmp(buf, "HTTP/1.1 503", 12))
			st->refused_503++;
		else
			st->cut++;
	} else {
		st->cut++;
		int64_t life = now_ms() - s->opened_ms;
		if (life > st->max_life_ms)
			st->max_life_ms = life;
	}
	close(s->fd);
	s->fd = -1;
	s->closed_ms = now_ms();
}

static void slot_tick(struct slot *s, int interval_ms, int64_t now)
{
	if (!s->trickle || now < s->next_ms || s->sent >= sizeof(request) - 1)
		return;
	if (send(s->fd, request + s->sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
		s->sent++;
	s->next_ms = now + interval_ms;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: %s HOST PORT SOURCES TRICKLE IDLE INTERVAL_MS SECONDS\n",
			argv[0]);
		return 2;
	}
	struct sockaddr_in dst = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)atoi(argv[2]))};
	struct in_addr first;
	char srcs[64];
	snprintf(srcs, sizeof(srcs), "%s", argv[3]);
	char *plus = strchr(srcs, '+');
	int nsrc = plus ? atoi(plus + 1) : 1;
	if (plus)
		*plus = '\0';
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    inet_pton(AF_INET, srcs, &first) != 1 || nsrc < 1)
		return 2;
	int trickle = atoi(argv[4]), idle = atoi(argv[5]), interval = atoi(argv[6]);
	int64_t end = now_ms() + (int64_t)atoi(argv[7]) * 1000;
	int n = trickle + idle;
	struct slot *slots = calloc((size_t)n, sizeof(*slots));
	struct pollfd *pfd = calloc((size_t)n, sizeof(*pfd));
	struct stats st = {0};
	if (!slots || !pfd)
		return 1;
	raise_nofile();
	for (int i = 0; i < n; i++) {
		slots[i].fd = -1;
		slots[i].trickle = i < trickle;
	}
	while (now_ms() < end) {
		int64_t now = now_ms();
		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[i];
			pfd[i].fd = -1; /* poll skips it */
			pfd[i].revents = 0;
			if (s->fd < 0 && s->closed_ms && now - s->closed_ms < interval)
				continue;
			if (s->fd < 0 &&
			    slot_open(s, &dst, ntohl(first.s_addr) + (uint32_t)(i % nsrc)) < 0) {
				st.connect_failed++;
				continue;
			}
			if (s->connected)
				slot_tick(s, interval, now);
			pfd[i].fd = s->fd;
			pfd[i].events = POLLIN | (s->connected ? 0 : POLLOUT);
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			struct slot *s = &slots[i];
			if (s->fd < 0 || pfd[i].fd != s->fd)
				continue;
			if (!s->connected && (pfd[i].revents & (POLLERR | POLLHUP))) {
				st.connect_failed++;
				close(s->fd);
				s->fd = -1;
				s->closed_ms = now_ms();
			} else if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) {
				slot_closed(s, &st);
			} else if (!s->connected && (pfd[i].revents & POLLOUT)) {
				s->connected = 1;
				st.opened++;
			}
		}
	}
	long still = 0;
	for (int i = 0; i < n; i++) {
		if (slots[i].fd >= 0) {
			still++;
			close(slots[i].fd);
		}
	}
	printf("opened=%ld refused_503=%ld cut=%ld connect_failed=%ld max_life_ms=%lld "
	       "still_open=%ld\n",
	       st.opened, st.refused_503, st.cut, st.connect_failed, (long long)st.max_life_ms,
	       still);
	free(slots);
	free(pfd);
	return 0;
}
