/* Checks text against the Prometheus text exposition format 0.0.4 for the metrics tests:
 * static functions only, include it from one test file each. */
#ifndef FORJA_TEST_PROM_CHECK_H
#define FORJA_TEST_PROM_CHECK_H

#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME   "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LNAME  "[a-zA-Z_][a-zA-Z0-9_]*"
#define LVALUE "\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
#define LABEL  LNAME "=" LVALUE
#define SAMPLE                                                                                     \
	"^" NAME "(\\{" LABEL "(," LABEL                                                           \
	")*\\})? [-+]?([0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|Inf|NaN)$"
#define COMMENT "^# (HELP " NAME " .*|TYPE " NAME " (counter|gauge|histogram|summary|untyped))$"

/*
 * Checks TEXT line by line: every line is a sample or a HELP/TYPE comment, and every sample's
 * family (histogram suffixes removed) had its TYPE and HELP before it. Returns the number of
 * samples, or -1 after printing the offending line.
 */
static int exposition_check(const char *text)
{
	regex_t sample, comment;
	ck_assert_int_eq(regcomp(&sample, SAMPLE, REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&comment, COMMENT, REG_EXTENDED | REG_NOSUB), 0);
	char *copy = strdup(text), *save = NULL;
	int samples = 0;
	ck_assert(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			if (regexec(&comment, line, 0, NULL, 0) != 0)
				goto bad;
			continue;
		}
		if (regexec(&sample, line, 0, NULL, 0) != 0)
			goto bad;
		char family[128];
		size_t n = strcspn(line, "{ ");
		snprintf(family, sizeof(family), "%.*s", (int)n, line);
		const char *suffixes[] = {"_bucket", "_sum", "_count"};
		char type_line[200], help_line[200];
		snprintf(type_line, sizeof(type_line), "# TYPE %s ", family);
		if (!strstr(text, type_line)) {
			for (size_t i = 0; i < 3; i++) {
				size_t sl = strlen(suffixes[i]);
				if (n > sl && strcmp(family + n - sl, suffixes[i]) == 0) {
					family[n - sl] = '\0';
					break;
				}
			}
			snprintf(type_line, sizeof(type_line), "# TYPE %s histogram", family);
		}
		snprintf(help_line, sizeof(help_line), "# HELP %s ", family);
		const char *t = strstr(text, type_line), *h = strstr(text, help_line);
		if (!t || !h || t > strstr(text, line) || h > strstr(text, line)) {
			fprintf(stderr, "no HELP/TYPE for %s\n", family);
			goto bad;
		}
		samples++;
	}
	free(copy);
	regfree(&sample);
	regfree(&comment);
	return samples;
bad:
	fprintf(stderr, "bad exposition line\n");
	free(copy);
	regfree(&sample);
	regfree(&comment);
	return -1;
}

/* The value of the sample whose line starts with SERIES ("name{labels}"), or -1 if absent. */
static double sample_value(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

#endif
