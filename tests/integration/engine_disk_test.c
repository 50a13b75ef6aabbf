/* Engine disk on the machine's engine: after each push only the newest FORJA_KEEP_IMAGES
 * images of a service stay tagged on the engine; an image whose tag moved on (dangling) is
 * pruned on the schedule; both are counted in /metrics. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/build.h"
#include "../../src/registry.h"
#include "testbuild.h"
#include "testenv.h"
#include "testgit.h"

static const char *engine_sock(void)
{
	const char *h = getenv("DOCKER_HOST");
	return h && !strncmp(h, "unix://", 7) ? h + 7 : "/var/run/docker.sock";
}

static const char *engine_name(void)
{
	const char *h = getenv("DOCKER_HOST");
	return h && *h ? h : "unix:///var/run/docker.sock";
}

/* HTTP status of GET /images/REF/json on the machine's engine. */
static long image_status(const char *ref)
{
	char url[512];
	char *e = curl_easy_escape(NULL, ref, 0);
	snprintf(url, sizeof(url), "http://localhost/images/%s/json", e);
	curl_free(e);
	CURL *h = curl_easy_init();
	long status = 0;
	FILE *null = fopen("/dev/null", "w");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, engine_sock());
	curl_easy_setopt(h, CURLOPT_WRITEDATA, null);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	fclose(null);
	return status;
}

static struct build *build_one(struct testenv *t, const char *svc, const char *ver, const char *url,
			       const char *sha)
{
	struct build *b = testbuild_wait_final(t, testbuild_queue(t, svc, ver, url, sha), 120);
	ck_assert_msg(b->status == BUILD_SUCCEEDED, "%s:%s %s", svc, ver, b->error ? b->error : "");
	return b;
}

START_TEST(test_keep_images_and_prune_dangling)
{
	struct testenv t;
	const char *args[] = {"--keep-images=2", "--engine-prune-interval=1", NULL};
	testenv_start(&t, args);
	char repo[64], url[256], svc[96], df[256], sha[5][41];
	testgit_unique("edisk", repo, sizeof(repo));
	testgit_url(repo, url, sizeof(url));
	snprintf(svc, sizeof(svc), "%s-svc", repo);
	snprintf(df, sizeof(df), "FROM %s\nCOPY stamp /stamp\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	for (int i = 0; i < 5; i++) {
		char stamp[96];
		snprintf(stamp, sizeof(stamp), "%s %d\n", repo, i);
		const char *files[] = {"Dockerfile", df, "stamp", stamp, NULL};
		testgit_commit(repo, "main", files, sha[i]);
	}
	char img[5][256];
	for (int v = 1; v <= 4; v++) {
		char ver[8];
		snprintf(ver, sizeof(ver), "%d", v);
		struct build *b = build_one(&t, svc, ver, url, sha[v - 1]);
		snprintf(img[v], sizeof(img[v]), "%s", b->image);
		build_free(b);
	}
	/* the newest two stay tagged, the older ones are gone from the engine */
	ck_assert_int_eq(image_status(img[1]), 404);
	ck_assert_int_eq(image_status(img[2]), 404);
	ck_assert_int_eq(image_status(img[3]), 200);
	ck_assert_int_eq(image_status(img[4]), 200);
	/* removed from the engine, still in the registry */
	for (int v = 1; v <= 2; v++) {
		char ver[8], digest[128], err[256];
		snprintf(ver, sizeof(ver), "%d", v);
		ck_assert_int_eq(
		    registry_manifest_digest(t.app.registry, svc, ver, digest, err, sizeof(err)),
		    0);
	}
	char series[512];
	snprintf(series, sizeof(series), "forja_engine_images_removed_total{engine=\"%s\"}",
		 engine_name());
	long removed = testenv_metric(&t, series, NULL);
	ck_assert_int_ge(removed, 2);

	/* version 4 built again from another commit: its first image is dangling, then pruned */
	struct build *b = build_one(&t, svc, "4", url, sha[4]);
	build_free(b);
	snprintf(series, sizeof(series), "forja_engine_reclaimed_bytes_total{engine=\"%s\"}",
		 engine_name());
	long bytes = 0;
	for (int i = 0; i < 100 && (bytes = testenv_metric(&t, series, NULL)) == 0; i++)
		usleep(200 * 1000);
	ck_assert_msg(bytes > 0, "no dangling image was pruned");
	ck_assert_int_eq(image_status(img[4]), 200); /* the tag, now on the new image */
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine_disk");
	TCase *tc = tcase_create("engine_disk");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_keep_images_and_prune_dangling);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
