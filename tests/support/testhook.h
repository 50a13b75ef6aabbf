/* Webhook round trips for end-to-end tests: the documented merged-PR payload delivered to a
 * running Forja, builds polled until final, images checked in the test registry. */
#ifndef FORJA_TESTHOOK_H
#define FORJA_TESTHOOK_H

#include <jansson.h>
#include <stdint.h>

/* tests/fixtures/github/NAME parsed (json_decref). */
json_t *testhook_fixture(const char *name);

struct testhook_repo {
	const char *clone_url;
	const char *full_name; /* owner/name */
	const char *name;
	const char *sha;     /* the merge commit */
	const char *ssh_url; /* repository.ssh_url; NULL = the payload has none */
};

/*
 * POSTs the merged-PR payload for REPO to BASE_URL/ciserver/updates with DELIVERY as its
 * delivery id; asserts 202 and returns the answer's builds (json_decref).
 */
json_t *testhook_deliver_merge(const char *base_url, const struct testhook_repo *repo,
			       const char *delivery);

/* The hook id every delivery of these helpers carries. */
#define TESTHOOK_HOOK_ID "99"

struct http_resp;

/* The same, signed with SECRET (X-Hub-Signature-256); SECRET NULL = unsigned. */
json_t *testhook_deliver_signed(const char *base_url, const struct testhook_repo *repo,
				const char *delivery, const char *secret);

/* The same delivery, but the answer, whatever its status, into *RESP (http_resp_free). */
void testhook_post_signed(const char *base_url, const struct testhook_repo *repo,
			  const char *delivery, const char *secret, struct http_resp *resp);

/* Polls GET BASE_URL/builds/ID until the build is final; returns its JSON (json_decref). */
json_t *testhook_wait_final(const char *base_url, int64_t id, int timeout_s);

/* The test registry serves SERVICE:VERSION at DIGEST. */
void testhook_assert_in_registry(const char *service, const char *version, const char *digest);

#endif
