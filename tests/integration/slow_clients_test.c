/* Slow clients cannot take Forja offline: thousands of connections that trickle a byte every
 * few seconds or send nothing, from one address and spread over 200, while signed webhooks and
 * /healthz from 127.0.0.1 are all answered; the attacker's connections are refused (503) or
 * cut at the request deadline, and both are counted in /metrics. */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../src/webhook.h"
#include "testenv.h"

#define SECRET	    "slow-clients-secret"
#define DEADLINE_S  3
#define ATTACK_S    9
#define TRICKLE	    2000
#define IDLE	    2000
#define INTERVAL_MS 2000

extern char **environ;

struct attack {
	pid_t pid;
	int out; /* the attacker's stdout */
};

struct attack_result {
	long opened, refused_503, cut, connect_failed, max_life_ms, still_open;
};

static void attack_start(struct attack *a, unsigned port, const char *sources)
{
	int p[2];
	char port_s[16], trickle[16], idle[16], interval[16], secs[16];
	posix_spawn_file_actions_t fa;
	snprintf(port_s, sizeof(port_s), "%u", port);
	snprintf(trickle, sizeof(trickle), "%d", TRICKLE);
	snprintf(idle, sizeof(idle), "%d", IDLE);
	snprintf(interval, sizeof(interval), "%d", INTERVAL_MS);
	snprintf(secs, sizeof(secs), "%d", ATTACK_S);
	char *argv[] = {FORJA_SLOWCLIENTS, "127.0.0.1", port_s, (char *)sources, trickle, idle,
			interval,	   secs,	NULL};
	ck_assert_int_eq(pipe(p), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	ck_assert_int_eq(posix_spawn(&a->pid, FORJA_SLOWCLIENTS, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	a->out = p[0];
}

static void attack_wait(struct attack *a, struct attack_result *r)
{
	char buf[512] = "";
	size_t len = 0;
	ssize_t n;
	int status = 0;
	while ((n = read(a->out, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(a->out);
	ck_assert_int_eq(waitpid(a->pid, &status, 0), a->pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacker failed: %s", buf);
	ck_assert_int_eq(sscanf(buf,
				"opened=%ld refused_503=%ld cut=%ld connect_failed=%ld "
				"max_life_ms=%ld still_open=%ld",
				&r->opened, &r->refused_503, &r->cut, &r->connect_failed,
				&r->max_life_ms, &r->still_open),
			 6);
	fprintf(stderr, "attacker: %s", buf);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* One request from 127.0.0.1 with a 5 s budget: the HTTP status, or 0 when none came. */
static long victim_request(CURL *h, const char *url, const char *body, const char *sig)
{
	struct curl_slist *hl = NULL;
	long status = 0;
	char sig_h[128];
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (body) {
		snprintf(sig_h, sizeof(sig_h), "X-Hub-Signature-256: %s", sig);
		hl = curl_slist_append(hl, "Content-Type: application/json");
		hl = curl_slist_append(hl, "X-GitHub-Event: ping");
		hl = curl_slist_append(hl, "X-GitHub-Delivery: 0b1e7c2a-slow-clients");
		hl = curl_slist_append(hl, sig_h);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	return status;
}

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Signed pings and /healthz, one pair every 100 ms for SECS: each must be answered 200. */
static void victims(const struct testenv *t, int secs)
{
	const char *body = "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}";
	char sig[80], hook[128], health[128];
	CURL *h = curl_easy_init();
	int asked = 0, answered = 0;
	long end = mono_ms() + secs * 1000L, worst = 0;
	ck_assert_int_eq(webhook_signature_make(SECRET, body, strlen(body), sig, sizeof(sig)), 0);
	snprintf(hook, sizeof(hook), "%s/ciserver/updates", t->base_url);
	snprintf(health, sizeof(health), "%s/healthz", t->base_url);
	while (mono_ms() < end) {
		long t0 = mono_ms();
		long a = victim_request(h, hook, body, sig);
		long b = victim_request(h, health, NULL, NULL);
		long dt = mono_ms() - t0;
		asked += 2;
		answered += (a == 200) + (b == 200 || b == 503);
		if (dt > worst)
			worst = dt;
		ck_assert_msg(a == 200, "signed ping answered %ld during the attack", a);
		ck_assert_msg(b == 200 || b == 503, "/healthz answered %ld during the attack", b);
		usleep(100 * 1000);
	}
	curl_easy_cleanup(h);
	fprintf(stderr, "victims: %d/%d answered, slowest pair %ld ms\n", answered, asked, worst);
	ck_assert_int_gt(asked, 20);
}

static void start(struct testenv *t)
{
	const char *args[] = {"--webhook-secret=" SECRET, "--request-deadline=3", NULL};
	testenv_start(t, args);
}

START_TEST(one_address_is_refused_and_cut)
{
	struct testenv t;
	struct attack a;
	struct attack_result r;
	start(&t);
	attack_start(&a, t.port, "127.0.0.2");
	sleep(1);
	victims(&t, ATTACK_S - 2);
	attack_wait(&a, &r);
	/* 64 at a time are let in and cut at the deadline; every other try is answered 503 */
	ck_assert_int_gt(r.refused_503, TRICKLE);
	ck_assert_int_gt(r.cut, 0);
	ck_assert_int_le(r.max_life_ms, DEADLINE_S * 1000 + 1500);
	ck_assert_int_ge(
	    testenv_metric(&t, "forja_http_limited_total{limit=\"per_address\"}", NULL),
	    r.refused_503);
	ck_assert_int_gt(testenv_metric(&t, "forja_http_limited_total{limit=\"deadline\"}", NULL),
			 0);
	testenv_stop(&t);
}
END_TEST

START_TEST(spread_attack_is_cut_at_the_deadline)
{
	struct testenv t;
	struct attack a;
	struct attack_result r;
	start(&t);
	attack_start(&a, t.port, "127.0.1.1+200");
	sleep(1);
	victims(&t, ATTACK_S - 2);
	attack_wait(&a, &r);
	/* 20 per address: all let in, none answered, each cut when its deadline passed */
	ck_assert_int_ge(r.opened, TRICKLE + IDLE);
	ck_assert_int_ge(r.cut, TRICKLE + IDLE);
	ck_assert_int_le(r.max_life_ms, DEADLINE_S * 1000 + 1500);
	ck_assert_int_ge(testenv_metric(&t, "forja_http_limited_total{limit=\"deadline\"}", NULL),
			 TRICKLE + IDLE);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("slow_clients");
	TCase *tc = tcase_create("attack");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, one_address_is_refused_and_cut);
	tcase_add_test(tc, spread_attack_is_cut_at_the_deadline);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
