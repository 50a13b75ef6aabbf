#include "testbuild.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/build.h"
#include "../../src/builder.h"
#include "../../src/queue.h"
#include "../../src/store.h"

int64_t testbuild_queue(struct testenv *t, const char *service, const char *version,
			const char *url, const char *sha)
{
	struct build *b = build_new();
	char image[512];
	int64_t id;
	b->service = strdup(service);
	b->version = strdup(version);
	b->type = strdup("docker");
	b->repository = strdup(url);
	b->clone_url = strdup(url);
	b->commit = strdup(sha);
	b->ref = strdup(sha);
	b->trigger = TRIGGER_CLI;
	builder_image_ref(t->cfg.registry, service, version, image, sizeof(image));
	b->image = strdup(image);
	ck_assert_int_eq(store_build_insert(t->app.store, b), 0);
	id = b->id;
	build_free(b);
	ck_assert_int_eq(queue_push(t->app.queue, id), 0);
	return id;
}
