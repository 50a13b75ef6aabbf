/* The delivery use case on real parts: a SQLite history in a fresh directory, a build queue
 * (not started, so pushed builds stay pending where queue_stats counts them) and a real HTTP
 * stand-in for GitHub. Accepted, redelivered, not allowed, invalid, and the insert race. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_logs.h"
#include "queue.h"
#include "delivery.h"
#include "errors.h"
#include "github_standin.h"
#include "store.h"

#define SHA "3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f"

struct fixture {
	char dir[256];
	struct github_standin *standin;
	struct github *github;
	struct store *store;
	struct build_logs *logs;
	struct builder_env env;
	struct queue *queue;
	struct delivery_ctx ctx;
	char clone_url[128];
	struct webhook_pr pr;
};

static void fixture_open(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/forja-delivery-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	f->standin = github_standin_start();
	struct github_opts go = {.api_url = github_standin_url(f->standin), .timeout_s = 5};
	ck_assert_int_eq(github_new(&go, &f->github), 0);
	ck_assert_int_eq(store_open(f->dir, &f->store), 0);
	ck_assert_int_eq(build_logs_open(f->dir, NULL, 1 << 20, &f->logs), 0);
	struct queue_opts qo = {.store = f->store,
				.logs = f->logs,
				.env = &f->env,
				.workers = 1,
				.timeout_s = 60,
				.max_attempts = 3};
	ck_assert_int_eq(queue_new(&qo, &f->queue), 0);
	f->ctx = (struct delivery_ctx){.store = f->store,
				       .queue = f->queue,
				       .github = f->github,
				       .manifest = "images.json",
				       .registry = "127.0.0.1:5000"};
	/* the stand-in is the configured GitHub, so its host is the one clone URLs may name */
	snprintf(f->clone_url, sizeof(f->clone_url), "%s/octo-org/shop.git",
		 github_standin_url(f->standin));
	f->pr = (struct webhook_pr){.action = "closed",
				    .number = 7,
				    .merged = true,
				    .base_ref = "main",
				    .merge_commit_sha = SHA,
				    .full_name = "octo-org/shop",
				    .clone_url = f->clone_url};
	github_standin_put_file(f->standin, "octo-org/shop", "images.json", SHA,
				"[{\"service_name\": \"api\", \"version\": \"1.2.0\", "
				"\"context\": \"\"},"
				" {\"service_name\": \"worker\", \"version\": \"0.9\", "
				"\"context\": \"worker\"}]");
}

static void fixture_close(struct fixture *f)
{
	char cmd[300];
	queue_free(f->queue);
	build_logs_close(f->logs);
	store_close(f->store);
	github_free(f->github);
	github_standin_stop(f->standin);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
}

static int pending(struct fixture *f)
{
	int queued = 0, running = 0;
	queue_stats(f->queue, &queued, &running);
	return queued;
}

START_TEST(accepted_then_redelivered)
{
	struct fixture f;
	struct delivery_outcome out, again;
	fixture_open(&f);

	ck_assert_int_eq(delivery_accept(&f.ctx, "h-1", "d-1", &f.pr, &out), 0);
	ck_assert_int_eq(out.result, DELIVERY_QUEUED);
	ck_assert_uint_eq(out.n, 2);
	ck_assert_ptr_null(out.errors);
	ck_assert_int_gt(out.builds[0]->id, 0);
	ck_assert_str_eq(out.builds[0]->image, "127.0.0.1:5000/api:1.2.0");
	ck_assert_str_eq(out.builds[1]->context, "worker");
	ck_assert_str_eq(out.builds[1]->delivery_id, "d-1");
	/* recorded with the delivery, and handed to the queue */
	struct build **stored = NULL;
	size_t nstored = 0;
	ck_assert_int_eq(store_delivery_builds(f.store, "h-1", "d-1", &stored, &nstored), 0);
	ck_assert_uint_eq(nstored, 2);
	build_array_free(stored, nstored);
	ck_assert_int_eq(pending(&f), 2);
	int asked = github_standin_contents_requests(f.standin, NULL, 0);

	/* the redelivery: the same builds, nothing asked of GitHub, nothing queued twice */
	ck_assert_int_eq(delivery_accept(&f.ctx, "h-1", "d-1", &f.pr, &again), 0);
	ck_assert_int_eq(again.result, DELIVERY_DUPLICATE);
	ck_assert_uint_eq(again.n, 2);
	ck_assert_int_eq(again.builds[0]->id, out.builds[0]->id);
	ck_assert_int_eq(again.builds[1]->id, out.builds[1]->id);
	ck_assert_int_eq(github_standin_contents_requests(f.standin, NULL, 0), asked);
	ck_assert_int_eq(pending(&f), 2);
	delivery_outcome_free(&again);

	/* another hook sending the same delivery id is another delivery */
	ck_assert_int_eq(delivery_accept(&f.ctx, "h-2", "d-1", &f.pr, &again), 0);
	ck_assert_int_eq(again.result, DELIVERY_QUEUED);
	ck_assert_int_ne(again.builds[0]->id, out.builds[0]->id);
	delivery_outcome_free(&again);
	delivery_outcome_free(&out);
	delivery_outcome_free(&out); /* freed outcomes are zeroed: a second free is harmless */
	fixture_close(&f);
}
END_TEST

START_TEST(not_allowed)
{
	struct fixture f;
	struct delivery_outcome out;
	fixture_open(&f);
	f.pr.clone_url = "https://git.evil.example/octo-org/shop.git";
	ck_assert_int_eq(delivery_accept(&f.ctx, "", "d-2", &f.pr, &out), FORJA_EINVAL);
	ck_assert_int_eq(out.result, DELIVERY_NOT_ALLOWED);
	ck_assert_uint_eq(out.n, 0);
	ck_assert_ptr_null(out.builds);
	/* nothing recorded, nothing asked of GitHub, nothing queued */
	struct build **stored = NULL;
	size_t nstored = 0;
	ck_assert_int_eq(store_delivery_builds(f.store, "", "d-2", &stored, &nstored),
			 FORJA_ENOTFOUND);
	ck_assert_int_eq(github_standin_contents_requests(f.standin, NULL, 0), 0);
	ck_assert_int_eq(pending(&f), 0);
	delivery_outcome_free(&out);
	fixture_close(&f);
}
END_TEST

/* With a deploy key and no token, the build fetches from the payload's ssh_url. */
START_TEST(ssh_url_used_with_a_deploy_key)
{
	struct fixture f;
	struct delivery_outcome out;
	char ssh[160];
	fixture_open(&f);
	snprintf(ssh, sizeof(ssh), "git@127.0.0.1:octo-org/shop.git");
	f.pr.ssh_url = ssh;
	ck_assert_int_eq(delivery_accept(&f.ctx, "h", "d-ssh-1", &f.pr, &out), 0);
	ck_assert_str_eq(out.builds[0]->clone_url, f.clone_url);
	delivery_outcome_free(&out);
	f.ctx.use_ssh_url = true;
	ck_assert_int_eq(delivery_accept(&f.ctx, "h", "d-ssh-2", &f.pr, &out), 0);
	ck_assert_str_eq(out.builds[0]->clone_url, ssh);
	delivery_outcome_free(&out);
	/* a payload without ssh_url keeps clone_url */
	f.pr.ssh_url = NULL;
	ck_assert_int_eq(delivery_accept(&f.ctx, "h", "d-ssh-3", &f.pr, &out), 0);
	ck_assert_str_eq(out.builds[0]->clone_url, f.clone_url);
	delivery_outcome_free(&out);
	/* and ssh_url passes the same host check */
	f.pr.ssh_url = "git@git.evil.example:octo-org/shop.git";
	ck_assert_int_eq(delivery_accept(&f.ctx, "h", "d-ssh-4", &f.pr, &out), FORJA_EINVAL);
	ck_assert_int_eq(out.result, DELIVERY_NOT_ALLOWED);
	delivery_outcome_free(&out);
	fixture_close(&f);
}
END_TEST

START_TEST(invalid_and_upstream)
{
	struct fixture f;
	struct delivery_outcome out;
	fixture_open(&f);
	github_standin_put_file(f.standin, "octo-org/shop", "images.json", SHA,
				"[{\"service_name\": \"api\", \"version\": \"1.0 beta\"}]");
	ck_assert_int_eq(delivery_accept(&f.ctx, "", "d-3", &f.pr, &out), FORJA_EINVAL);
	ck_assert_int_eq(out.result, DELIVERY_INVALID);
	ck_assert_ptr_nonnull(strstr(out.detail, "images.json at " SHA ": entry 1: version"));
	ck_assert_uint_ge(json_array_size(out.errors), 1);
	delivery_outcome_free(&out);

	github_standin_fail_contents(f.standin, 500);
	ck_assert_int_eq(delivery_accept(&f.ctx, "", "d-3", &f.pr, &out), FORJA_EUPSTREAM);
	ck_assert_int_eq(out.result, DELIVERY_UPSTREAM);
	ck_assert_ptr_nonnull(strstr(out.detail, "images.json"));
	ck_assert_ptr_null(out.errors);
	delivery_outcome_free(&out);

	/* a refused delivery is not recorded: once GitHub is back, the redelivery builds */
	github_standin_fail_contents(f.standin, 0);
	github_standin_put_file(f.standin, "octo-org/shop", "images.json", SHA,
				"[{\"service_name\": \"api\", \"version\": \"1.0\", "
				"\"context\": \"\"}]");
	ck_assert_int_eq(delivery_accept(&f.ctx, "", "d-3", &f.pr, &out), 0);
	ck_assert_int_eq(out.result, DELIVERY_QUEUED);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_int_eq(pending(&f), 1);
	delivery_outcome_free(&out);
	fixture_close(&f);
}
END_TEST

struct racer {
	struct fixture *f;
	struct delivery_outcome out;
	int rc;
};

static void *race(void *ud)
{
	struct racer *r = ud;
	r->rc = delivery_accept(&r->f->ctx, "h-9", "d-9", &r->f->pr, &r->out);
	return NULL;
}

/* Two connections bring the same delivery at once: both pass the redelivery check while GitHub
 * is slow, one records it, the other finds the conflict and answers with the winner's builds. */
START_TEST(insert_race)
{
	struct fixture f;
	struct racer a = {.f = &f}, b = {.f = &f};
	pthread_t ta, tb;
	fixture_open(&f);
	github_standin_delay_contents(f.standin, 1000);
	ck_assert_int_eq(pthread_create(&ta, NULL, race, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, race, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	/* both planned, so both were past the redelivery check before either recorded */
	ck_assert_int_eq(github_standin_contents_requests(f.standin, NULL, 0), 2);
	ck_assert_int_eq(a.rc, 0);
	ck_assert_int_eq(b.rc, 0);
	struct racer *won = a.out.result == DELIVERY_QUEUED ? &a : &b;
	struct racer *lost = won == &a ? &b : &a;
	ck_assert_int_eq(won->out.result, DELIVERY_QUEUED);
	ck_assert_int_eq(lost->out.result, DELIVERY_DUPLICATE);
	ck_assert_uint_eq(lost->out.n, won->out.n);
	for (size_t i = 0; i < won->out.n; i++)
		ck_assert_int_eq(lost->out.builds[i]->id, won->out.builds[i]->id);
	/* only the winner's builds exist and are queued */
	ck_assert_int_eq(pending(&f), (int)won->out.n);
	struct build_filter all = {.limit = 100};
	struct build **every = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_build_list(f.store, &all, &every, &n), 0);
	ck_assert_uint_eq(n, won->out.n);
	build_array_free(every, n);
	delivery_outcome_free(&a.out);
	delivery_outcome_free(&b.out);
	fixture_close(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("delivery");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, accepted_then_redelivered);
	tcase_add_test(tc, not_allowed);
	tcase_add_test(tc, ssh_url_used_with_a_deploy_key);
	tcase_add_test(tc, invalid_and_upstream);
	tcase_add_test(tc, insert_race);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
