#include "webhook.h"

#include <ctype.h>
#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "source.h"
#include "log.h"

#define SHA256_LEN 32

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hmac_sha256(const char *secret, const void *body, size_t len,
		       unsigned char mac[SHA256_LEN])
{
	/* gnutls wants a non-NULL pointer even for an empty body. */
	static const char empty[1];
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, strlen(secret), len ? body : empty, len,
			     mac) != 0)
		return FORJA_EIO;
	return 0;
}

int webhook_signature_make(const char *secret, const void *body, size_t len, char *buf,
			   size_t buflen)
{
	unsigned char mac[SHA256_LEN];
	if (!secret || buflen < 7 + 2 * SHA256_LEN + 1)
		return FORJA_EINVAL;
	int rc = hmac_sha256(secret, body, len, mac);
	if (rc)
		return rc;
	memcpy(buf, "sha256=", 7);
	hex_encode(mac, SHA256_LEN, buf + 7);
	return 0;
}

int webhook_signature_verify(const char *secret, const void *body, size_t len, const char *header)
{
	unsigned char want[SHA256_LEN], got[SHA256_LEN];
	if (!secret || !*secret || !header)
		return FORJA_EAUTH;
	if (strncmp(header, "sha256=", 7) != 0 || strlen(header) != 7 + 2 * SHA256_LEN)
		return FORJA_EAUTH;
	for (size_t i = 0; i < SHA256_LEN; i++) {
		int hi = hex_value(header[7 + 2 * i]), lo = hex_value(header[8 + 2 * i]);
		if (hi < 0 || lo < 0)
			return FORJA_EAUTH;
		got[i] = (unsigned char)(hi << 4 | lo);
	}
	if (hmac_sha256(secret, body, len, want))
		return FORJA_EAUTH;
	/* Constant time: the time taken must not tell how many leading bytes were right. */
	return gnutls_memcmp(want, got, SHA256_LEN) == 0 ? 0 : FORJA_EAUTH;
}

int webhook_form_payload(const char *body, size_t len, char **out, size_t *outlen)
{
	const char *p = body, *end = body + len;
	*out = NULL;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *fend = amp ? amp : end;
		if (fend - p >= 8 && memcmp(p, "payload=", 8) == 0) {
			size_t vlen = (size_t)(fend - p - 8);
			char *raw = malloc(vlen + 1);
			if (!raw)
				return FORJA_ENOMEM;
			for (size_t i = 0; i < vlen; i++)
				raw[i] = p[8 + i] == '+' ? ' ' : p[8 + i];
			raw[vlen] = '\0';
			/* A broken escape (% not followed by two hex digits) is a bad request. */
			for (size_t i = 0; i < vlen; i++) {
				if (raw[i] == '%' && (i + 2 >= vlen || hex_value(raw[i + 1]) < 0 ||
						      hex_value(raw[i + 2]) < 0)) {
					free(raw);
					return FORJA_EINVAL;
				}
			}
			if (vlen > (size_t)INT32_MAX) {
				free(raw);
				return FORJA_ETOOBIG;
			}
			int dlen = 0;
			char *dec = curl_easy_unescape(NULL, raw, (int)vlen, &dlen);
			free(raw);
			if (!dec)
				return FORJA_ENOMEM;
			*out = malloc((size_t)dlen + 1);
			if (!*out) {
				curl_free(dec);
				return FORJA_ENOMEM;
			}
			memcpy(*out, dec, (size_t)dlen);
			(*out)[dlen] = '\0';
			*outlen = (size_t)dlen;
			curl_free(dec);
			return 0;
		}
		p = fend + 1;
	}
	return FORJA_EINVAL;
}

bool webhook_json_depth_ok(const char *text, size_t len, int max_depth)
{
	int depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return false;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return true;
}

void webhook_add_error(json_t *errors, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* the payload and the manifest it leads to both come in the request's body: the errors
	 * item shape of the API (problem_error_add) with "in" fixed */
	json_array_append_new(
	    errors, json_pack("{s:s, s:s, s:s}", "field", field, "in", "body", "message", msg));
}

static const char *string_at(json_t *obj, const char *key, const char *field, json_t *errors)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v) || json_string_length(v) == 0) {
		webhook_add_error(errors, field, "%s is %s", field,
				  !v || json_is_null(v) ? "missing" : "not a non-empty string");
		return NULL;
	}
	return json_string_value(v);
}

/* owner/repo, each part of GitHub's name characters: nothing that could change an API path. */
static bool is_full_name(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || !slash[1] || strchr(slash + 1, '/') || strlen(s) > 200)
		return false;
	for (const char *p = s; *p; p++) {
		if (p == slash)
			continue;
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	}
	return strcmp(slash + 1, ".") != 0 && strcmp(slash + 1, "..") != 0;
}

int webhook_pr_parse(json_t *payload, struct webhook_pr *pr, json_t *errors)
{
	size_t before = json_array_size(errors);
	memset(pr, 0, sizeof(*pr));
	if (!json_is_object(payload)) {
		webhook_add_error(errors, "payload", "the payload is not a JSON object");
		return FORJA_EINVAL;
	}
	pr->action = string_at(payload, "action", "action", errors);
	json_t *p = json_object_get(payload, "pull_request");
	json_t *repo = json_object_get(payload, "repository");
	if (!json_is_object(p)) {
		webhook_add_error(errors, "pull_request",
				  "pull_request is missing or not an object");
	} else {
		json_t *num = json_object_get(p, "number");
		if (!json_is_integer(num) || json_integer_value(num) <= 0)
			webhook_add_error(
			    errors, "pull_request.number",
			    "pull_request.number is missing or not a positive integer");
		else
			pr->number = json_integer_value(num);
		json_t *merged = json_object_get(p, "merged");
		if (json_is_boolean(merged))
			pr->merged = json_is_true(merged);
		else if (pr->action && strcmp(pr->action, "closed") == 0)
			webhook_add_error(errors, "pull_request.merged",
					  "pull_request.merged is missing or not a boolean");
		json_t *base = json_object_get(p, "base");
		if (!json_is_object(base))
			webhook_add_error(errors, "pull_request.base",
					  "pull_request.base is missing or not an object");
		else
			pr->base_ref = string_at(base, "ref", "pull_request.base.ref", errors);
	}
	if (!json_is_object(repo))
		webhook_add_error(errors, "repository", "repository is missing or not an object");
	/* What only a build needs is checked only when this is a merge. */
	bool merge = pr->action && strcmp(pr->action, "closed") == 0 && pr->merged;
	if (merge && json_is_object(p)) {
		pr->merge_commit_sha =
		    string_at(p, "merge_commit_sha", "pull_request.merge_commit_sha", errors);
		if (pr->merge_commit_sha && !source_is_full_sha(pr->merge_commit_sha)) {
			webhook_add_error(
			    errors, "pull_request.merge_commit_sha",
			    "pull_request.merge_commit_sha is not a 40-hex commit id");
			pr->merge_commit_sha = NULL;
		}
	}
	if (merge && json_is_object(repo)) {
		pr->full_name = string_at(repo, "full_name", "repository.full_name", errors);
		if (pr->full_name && !is_full_name(pr->full_name)) {
			webhook_add_error(errors, "repository.full_name",
					  "repository.full_name is not of the form owner/repo");
			pr->full_name = NULL;
		}
		pr->clone_url = string_at(repo, "clone_url", "repository.clone_url", errors);
		if (pr->clone_url && strlen(pr->clone_url) > 2000) {
			webhook_add_error(errors, "repository.clone_url",
					  "repository.clone_url is too long");
			pr->clone_url = NULL;
		}
		/* optional: only used when Forja fetches over ssh with a deploy key */
		pr->ssh_url = json_string_value(json_object_get(repo, "ssh_url"));
		if (pr->ssh_url && (!*pr->ssh_url || strlen(pr->ssh_url) > 2000))
			pr->ssh_url = NULL;
	}
	return json_array_size(errors) > before ? FORJA_EINVAL : 0;
}

bool webhook_pr_builds(const struct webhook_pr *pr, const char *branch, char *reason,
		       size_t reasonlen)
{
	if (strcmp(pr->action, "closed") != 0) {
		snprintf(reason, reasonlen,
			 "ignored: pull request #%lld was %s; builds run when one is merged",
			 (long long)pr->number, pr->action);
		return false;
	}
	if (!pr->merged) {
		snprintf(reason, reasonlen,
			 "ignored: pull request #%lld was closed without merging",
			 (long long)pr->number);
		return false;
	}
	if (strcmp(pr->base_ref, branch) != 0) {
		snprintf(reason, reasonlen, "ignored: base branch is %s, builds run for %s",
			 pr->base_ref, branch);
		return false;
	}
	return true;
}
