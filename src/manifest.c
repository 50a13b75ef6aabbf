/* The images manifest and the plan it makes: a merged pull request's manifest, read from GitHub
 * at the merge commit, becomes one queued build per entry. */
#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "builder.h"
#include "deadline.h"
#include "dynbuf.h"
#include "errors.h"

void manifest_images_free(struct manifest_image *imgs, size_t n)
{
	if (!imgs)
		return;
	for (size_t i = 0; i < n; i++) {
		free(imgs[i].service);
		free(imgs[i].version);
		free(imgs[i].type);
		free(imgs[i].context);
		free(imgs[i].dockerfile);
		json_decref(imgs[i].build_args);
	}
	free(imgs);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A packages entry's list, into build_args as builder.h says (PACKAGES or PACKAGES_FILE). Each
 * package is checked here, so that the 422 names the one that is wrong. */
static void packages_read(json_t *e, const char *field, struct manifest_image *img, json_t *errors)
{
	json_t *list = json_object_get(e, "packages");
	json_t *file = json_object_get(e, "packages_file");
	json_t *args = NULL;
	struct dynbuf joined;
	size_t i, len = 0;
	json_t *v;

	if (json_object_get(e, "build_args")) {
		webhook_add_error(errors, field, "%s: build_args is not used by a packages entry",
				  field);
		return;
	}
	if (!list == !file) {
		webhook_add_error(errors, field,
				  "%s: a packages entry needs either packages (a list) or "
				  "packages_file",
				  field);
		return;
	}
	if (file) {
		if (!json_is_string(file) || !*json_string_value(file))
			webhook_add_error(errors, field, "%s: packages_file is not a file name",
					  field);
		else
			img->build_args = json_pack("{s:O}", BUILDER_PACKAGES_FILE_ARG, file);
		return;
	}
	if (!json_is_array(list)) {
		webhook_add_error(errors, field, "%s: packages is not a list of packages", field);
		return;
	}
	if (!json_array_size(list)) {
		webhook_add_error(errors, field, "%s: packages lists no packages", field);
		return;
	}
	json_array_foreach(list, i, v)
	{
		const char *p = json_string_value(v);

		if (!p || !builder_package_valid(p, strlen(p))) {
			webhook_add_error(
			    errors, field,
			    "%s: packages[%zu] \"%.100s\" is not a Debian package "
			    "name[=version] ([a-z0-9][a-z0-9+.-]+, then =[A-Za-z0-9.+~:-]+)",
			    field, i, p ? p : "(not a string)");
			return;
		}
		len += strlen(p) + 1;
	}
	dynbuf_init(&joined, len + 1);
	json_array_foreach(list, i, v)
	{
		if (dynbuf_addf(&joined, "%s%s", i ? " " : "", json_string_value(v)))
			break;
	}
	args = joined.failed ? NULL : json_object();
	if (args &&
	    !json_object_set_new(args, BUILDER_PACKAGES_ARG, json_string(dynbuf_str(&joined))))
		img->build_args = json_incref(args);
	json_decref(args);
	dynbuf_free(&joined);
}

/* Copies one entry's fields, noting problems of shape (not of value: builder_validate does). */
static void entry_read(json_t *e, size_t idx, struct manifest_image *img, json_t *errors)
{
	char field[48];
	snprintf(field, sizeof(field), "entry %zu", idx + 1);
	if (!json_is_object(e)) {
		webhook_add_error(errors, field, "%s: is not an object", field);
		return;
	}
	static const char *const keys[] = {"service_name", "version", "type", "context",
					   "dockerfile"};
	const char *vals[5] = {0};
	for (size_t k = 0; k < 5; k++) {
		json_t *v = json_object_get(e, keys[k]);
		if (v && !json_is_string(v) && !(k >= 2 && json_is_null(v)))
			webhook_add_error(errors, field, "%s: %s is not a string", field, keys[k]);
		else if (json_is_string(v))
			vals[k] = json_string_value(v);
	}
	if (!vals[0])
		webhook_add_error(errors, field, "%s: service_name is missing", field);
	if (!vals[1])
		webhook_add_error(errors, field, "%s: version is missing", field);
	json_t *args = json_object_get(e, "build_args");
	if (args && !json_is_null(args)) {
		const char *k;
		json_t *v;
		bool ok = json_is_object(args);
		json_object_foreach(ok ? args : NULL, k, v)
		{
			if (!json_is_string(v))
				ok = false;
		}
		if (ok)
			img->build_args = json_incref(args);
		else
			webhook_add_error(errors, field,
					  "%s: build_args is not an object of strings", field);
	}
	if (vals[2] && !strcasecmp(vals[2], "packages"))
		packages_read(e, field, img, errors);
	else if (json_object_get(e, "packages") || json_object_get(e, "packages_file"))
		webhook_add_error(
		    errors, field,
		    "%s: packages and packages_file belong to entries of type packages", field);
	img->service = dup_or_null(vals[0]);
	img->version = dup_or_null(vals[1]);
	img->type = strdup(vals[2] ? vals[2] : "docker");
	img->context = dup_or_null(vals[3]);
	img->dockerfile = dup_or_null(vals[4]);
}

int manifest_parse(const char *text, size_t len, struct manifest_image **out, size_t *n,
		   json_t *errors)
{
	json_error_t jerr;
	size_t before = json_array_size(errors);
	*out = NULL;
	*n = 0;
	if (len > MANIFEST_MAX_BYTES) {
		webhook_add_error(errors, "manifest", "the manifest is larger than %zu bytes",
				  MANIFEST_MAX_BYTES);
		return FORJA_EINVAL;
	}
	if (!webhook_json_depth_ok(text, len, WEBHOOK_MAX_JSON_DEPTH)) {
		webhook_add_error(errors, "manifest", "the manifest nests deeper than %d levels",
				  WEBHOOK_MAX_JSON_DEPTH);
		return FORJA_EINVAL;
	}
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!root) {
		webhook_add_error(errors, "manifest", "not valid JSON: %s at line %d column %d",
				  jerr.text, jerr.line, jerr.column);
		return FORJA_EINVAL;
	}
	json_t *list = root;
	if (json_is_object(root) && json_object_get(root, "images"))
		list = json_object_get(root, "images");
	else if (json_is_object(root) && json_object_get(root, "service_name"))
		list = NULL; /* a single entry */
	int rc = 0;
	size_t count = list ? json_array_size(list) : 1;
	if (list && !json_is_array(list)) {
		webhook_add_error(
		    errors, "manifest",
		    "expected a list of images, {\"images\": [...]} or one image object");
		rc = FORJA_EINVAL;
		goto out;
	}
	if (count == 0) {
		webhook_add_error(errors, "manifest", "the manifest lists no images");
		rc = FORJA_EINVAL;
		goto out;
	}
	if (count > MANIFEST_MAX_IMAGES) {
		webhook_add_error(errors, "manifest",
				  "the manifest lists %zu images, at most %d are built", count,
				  MANIFEST_MAX_IMAGES);
		rc = FORJA_EINVAL;
		goto out;
	}
	*out = calloc(count, sizeof(**out));
	if (!*out) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	*n = count;
	for (size_t i = 0; i < count; i++)
		entry_read(list ? json_array_get(list, i) : root, i, &(*out)[i], errors);
	/* Two entries for one service would race for the same image name. */
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < i; j++) {
			if ((*out)[i].service && (*out)[j].service &&
			    strcmp((*out)[i].service, (*out)[j].service) == 0) {
				char field[48];
				snprintf(field, sizeof(field), "entry %zu", i + 1);
				webhook_add_error(errors, field,
						  "%s: service %s is already listed by entry %zu",
						  field, (*out)[i].service, j + 1);
			}
		}
	}
	/* The entries stay with the caller, so their values can be checked too. */
	if (json_array_size(errors) > before)
		rc = FORJA_EINVAL;
out:
	json_decref(root);
	if (rc && rc != FORJA_EINVAL) {
		manifest_images_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* The context of IMG: as given, else the service's directory when it holds the Dockerfile.
 * No request starts after DEADLINE (monotonic ms). */
static int context_resolve(const struct manifest_plan_opts *o, const struct webhook_pr *pr,
			   struct manifest_image *img, int64_t deadline, char *detail,
			   size_t detaillen)
{
	char path[1024], err[512];
	char *body = NULL;
	size_t blen = 0;
	if (img->context || !img->service)
		return 0;
	if (!strcasecmp(img->type, "packages")) {
		img->context = strdup(""); /* Forja writes its context */
		return img->context ? 0 : FORJA_ENOMEM;
	}
	/* Only names that cannot change the API path are probed; validation reports the rest. */
	if (!builder_service_valid(img->service) ||
	    (img->dockerfile && (strstr(img->dockerfile, "..") || img->dockerfile[0] == '/')))
		return 0;
	snprintf(path, sizeof(path), "%s/%s", img->service,
		 img->dockerfile ? img->dockerfile : "Dockerfile");
	if (deadline_now_ms() > deadline) {
		snprintf(
		    detail, detaillen,
		    "GitHub answers too slowly: looking for %s at %s did not start within %d ms",
		    path, pr->merge_commit_sha,
		    o->budget_ms > 0 ? o->budget_ms : MANIFEST_PLAN_BUDGET_MS);
		return FORJA_ETIMEDOUT;
	}
	int rc = github_file_get_by(o->github, pr->full_name, path, pr->merge_commit_sha,
				    deadline + MANIFEST_PLAN_OVERTIME_MS, &body, &blen, err,
				    sizeof(err));
	free(body);
	if (rc == 0) {
		img->context = strdup(img->service);
		return img->context ? 0 : FORJA_ENOMEM;
	}
	if (rc == FORJA_ENOTFOUND) {
		img->context = strdup("");
		return img->context ? 0 : FORJA_ENOMEM;
	}
	snprintf(detail, detaillen, "reading %s at %s from GitHub: %s", path, pr->merge_commit_sha,
		 err);
	return rc;
}

/* A packages entry's packages_file, read at the merge commit: missing or malformed is a 422
 * naming the entry now, not a failed build later. GitHub failing is RC with DETAIL. */
static int packages_file_check(const struct manifest_plan_opts *o, const struct webhook_pr *pr,
			       const struct manifest_image *img, size_t idx, int64_t deadline,
			       json_t *errors, char *detail, size_t detaillen)
{
	const char *file =
	    json_string_value(json_object_get(img->build_args, BUILDER_PACKAGES_FILE_ARG));
	char err[512], why[256], field[32];
	char *body = NULL;
	size_t blen = 0, count = 0;
	if (!img->type || strcasecmp(img->type, "packages") || !file)
		return 0;
	snprintf(field, sizeof(field), "entry %zu", idx + 1);
	if (strstr(file, "..") || file[0] == '/') {
		webhook_add_error(errors, field,
				  "%s: packages_file \"%s\" is outside the repository", field,
				  file);
		return 0;
	}
	int rc = github_file_get_by(o->github, pr->full_name, file, pr->merge_commit_sha,
				    deadline + MANIFEST_PLAN_OVERTIME_MS, &body, &blen, err,
				    sizeof(err));
	if (rc == FORJA_ENOTFOUND || rc == FORJA_ETOOBIG) {
		webhook_add_error(errors, field, "%s: packages_file %s %s at %s", field, file,
				  rc == FORJA_ENOTFOUND ? "not found" : "is too large",
				  pr->merge_commit_sha);
		rc = 0;
	} else if (rc) {
		snprintf(detail, detaillen, "reading %s at %s from GitHub: %s", file,
			 pr->merge_commit_sha, err);
	} else if (builder_packages_parse(body, blen, NULL, &count, why, sizeof(why))) {
		webhook_add_error(errors, field, "%s: packages_file %s %s", field, file, why);
	} else if (!count) {
		webhook_add_error(errors, field, "%s: packages_file %s lists no packages", field,
				  file);
	}
	free(body);
	return rc;
}

/* The value an entry gave for FIELD, to quote in a message; NULL when not worth quoting. */
static const char *image_value(const struct manifest_image *img, const char *field)
{
	if (strcmp(field, "service") == 0)
		return img->service;
	if (strcmp(field, "version") == 0)
		return img->version;
	if (strcmp(field, "context") == 0)
		return img->context;
	if (strcmp(field, "dockerfile") == 0)
		return img->dockerfile;
	return NULL;
}

/* builder_validate's problems, each as "entry N: <field> "<value>" <why>". */
static int image_validate(const struct manifest_image *img, size_t idx, const struct webhook_pr *pr,
			  json_t *errors)
{
	struct build_spec spec = {
	    .service = img->service,
	    .version = img->version,
	    .type = img->type,
	    .git_url = pr->clone_url,
	    .ref = pr->merge_commit_sha,
	    .context = img->context,
	    .dockerfile = img->dockerfile,
	    .build_args = img->build_args,
	};
	char name[48], field[96];
	json_t *found = json_array();
	if (!found)
		return FORJA_ENOMEM;
	int rc = builder_validate(&spec, found);
	size_t i;
	json_t *e;
	snprintf(name, sizeof(name), "entry %zu", idx + 1);
	json_array_foreach(found, i, e)
	{
		const char *f = json_string_value(json_object_get(e, "field"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		f = f ? f : "entry";
		msg = msg ? msg : "is invalid";
		snprintf(field, sizeof(field), "%s.%s", name, f);
		const char *val = image_value(img, f);
		/* a missing service_name or version was reported when the manifest was read */
		if ((strcmp(f, "service") == 0 || strcmp(f, "version") == 0) && !val)
			continue;
		if (strcmp(f, "type") == 0)
			webhook_add_error(errors, field, "%s: %s", name, msg);
		else if (strcmp(f, "git_url") == 0)
			webhook_add_error(errors, "repository.clone_url",
					  "%s: clone URL \"%.200s\" %s", name, pr->clone_url, msg);
		else if (val)
			webhook_add_error(errors, field, "%s: %s \"%.200s\" %s", name, f, val, msg);
		else
			webhook_add_error(errors, field, "%s: %s %s", name, f, msg);
	}
	json_decref(found);
	return rc;
}

static struct build *image_build(const struct manifest_plan_opts *o, const struct webhook_pr *pr,
				 const struct manifest_image *img)
{
	char ref[512];
	if (builder_image_ref(o->registry, img->service, img->version, ref, sizeof(ref)))
		return NULL;
	struct build_fields f = {
	    .trigger = TRIGGER_WEBHOOK,
	    .service = img->service,
	    .version = img->version,
	    .type = img->type,
	    .image = ref,
	    .repository = pr->full_name,
	    .clone_url = pr->clone_url,
	    .commit = pr->merge_commit_sha,
	    .ref = pr->merge_commit_sha,
	    .context = img->context,
	    .dockerfile = img->dockerfile,
	    .build_args = img->build_args,
	    .pull_request = pr->number,
	    .branch = pr->base_ref,
	    .delivery_id = o->delivery_id,
	};
	return build_new_from(&f);
}

/* DETAIL: "<manifest> at <sha>: <first problem>" (and how many more). */
static void invalid_detail(const struct manifest_plan_opts *o, const struct webhook_pr *pr,
			   json_t *errors, size_t first, char *detail, size_t detaillen)
{
	size_t count = json_array_size(errors) - first;
	const char *msg =
	    json_string_value(json_object_get(json_array_get(errors, first), "message"));
	if (count > 1)
		snprintf(detail, detaillen, "%s at %s: %s (and %zu more problems)", o->manifest,
			 pr->merge_commit_sha, msg ? msg : "invalid", count - 1);
	else
		snprintf(detail, detaillen, "%s at %s: %s", o->manifest, pr->merge_commit_sha,
			 msg ? msg : "invalid");
}

int manifest_plan_builds(const struct manifest_plan_opts *o, const struct webhook_pr *pr,
			 struct build ***builds, size_t *n, json_t *errors, char *detail,
			 size_t detaillen)
{
	char err[512];
	char *text = NULL;
	size_t tlen = 0, nimg = 0, first = json_array_size(errors);
	struct manifest_image *imgs = NULL;
	int64_t deadline =
	    deadline_now_ms() + (o->budget_ms > 0 ? o->budget_ms : MANIFEST_PLAN_BUDGET_MS);
	*builds = NULL;
	*n = 0;
	int rc = github_file_get_by(o->github, pr->full_name, o->manifest, pr->merge_commit_sha,
				    deadline + MANIFEST_PLAN_OVERTIME_MS, &text, &tlen, err,
				    sizeof(err));
	if (rc == FORJA_ENOTFOUND) {
		snprintf(detail, detaillen, "%s at %s: not found in %s", o->manifest,
			 pr->merge_commit_sha, pr->full_name);
		webhook_add_error(errors, "manifest", "%s", detail);
		goto out;
	}
	if (rc == FORJA_ETOOBIG) {
		snprintf(detail, detaillen, "%s at %s: larger than %zu bytes", o->manifest,
			 pr->merge_commit_sha, MANIFEST_MAX_BYTES);
		webhook_add_error(errors, "manifest", "%s", detail);
		rc = FORJA_EINVAL;
		goto out;
	}
	if (rc) {
		snprintf(detail, detaillen, "reading %s at %s from GitHub: %s", o->manifest,
			 pr->merge_commit_sha, err);
		goto out;
	}
	rc = manifest_parse(text, tlen, &imgs, &nimg, errors);
	if (rc && !(rc == FORJA_EINVAL && imgs)) {
		if (rc == FORJA_EINVAL)
			invalid_detail(o, pr, errors, first, detail, detaillen);
		goto out;
	}
	/* A manifest already known to be invalid is not probed: its values are checked below. */
	for (size_t i = 0; rc == 0 && i < nimg; i++) {
		rc = context_resolve(o, pr, &imgs[i], deadline, detail, detaillen);
		if (!rc)
			rc = packages_file_check(o, pr, &imgs[i], i, deadline, errors, detail,
						 detaillen);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < nimg; i++) {
		rc = image_validate(&imgs[i], i, pr, errors);
		if (rc == FORJA_ENOMEM)
			goto out;
	}
	if (json_array_size(errors) > first) {
		rc = FORJA_EINVAL;
		invalid_detail(o, pr, errors, first, detail, detaillen);
		goto out;
	}
	*builds = calloc(nimg, sizeof(**builds));
	if (!*builds) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nimg; i++) {
		(*builds)[i] = image_build(o, pr, &imgs[i]);
		if (!(*builds)[i]) {
			build_array_free(*builds, i);
			*builds = NULL;
			rc = FORJA_ENOMEM;
			goto out;
		}
	}
	*n = nimg;
	rc = 0;
out:
	free(text);
	manifest_images_free(imgs, nimg);
	return rc;
}
