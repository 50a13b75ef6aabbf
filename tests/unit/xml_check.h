/* A minimal XML well-formedness check for the badge tests (no XML library in the build):
 * nesting, quoting, entities. Static functions only: include it from one test file each. */
#ifndef FORJA_TEST_XML_CHECK_H
#define FORJA_TEST_XML_CHECK_H

#include <stdbool.h>
#include <string.h>

/*
 * A small XML well-formedness check: tags nest and match, attributes are quoted, '&' only
 * starts a known entity or a character reference, '<' never appears in text or attributes.
 * Returns NULL when well-formed, else a static reason.
 */
static const char *xml_check(const char *s)
{
	const char *stack[64];
	size_t lens[64];
	int depth = 0, roots = 0;
	const char *p = s;
	while (*p) {
		if (*p == '&') {
			const char *ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"};
			bool ok = false;
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
				ok = ok || strncmp(p, ents[i], strlen(ents[i])) == 0;
			if (!ok || !strchr(p, ';'))
				return "bad entity";
			p = strchr(p, ';') + 1;
			continue;
		}
		if (*p != '<') {
			if (depth == 0 && *p != '\n' && *p != ' ')
				return "text outside the root";
			if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
				return "control character";
			p++;
			continue;
		}
		bool closing = p[1] == '/';
		const char *name = p + (closing ? 2 : 1);
		size_t nlen = strcspn(name, " \t\n/>");
		if (nlen == 0)
			return "empty tag name";
		const char *q = name + nlen;
		if (closing) {
			if (depth == 0 || lens[depth - 1] != nlen ||
			    strncmp(stack[depth - 1], name, nlen) != 0)
				return "mismatched closing tag";
			depth--;
			q = strchr(q, '>');
			if (!q)
				return "unterminated tag";
			p = q + 1;
			continue;
		}
		/* attributes: name="value" with no '<' and no raw '&' outside references */
		while (*q == ' ')
			q++;
		while (*q && *q != '>' && *q != '/') {
			size_t an = strcspn(q, "= >");
			if (an == 0 || q[an] != '=' || q[an + 1] != '"')
				return "unquoted attribute";
			const char *v = q + an + 2, *end = strchr(v, '"');
			if (!end)
				return "unterminated attribute";
			for (const char *c = v; c < end; c++) {
				if (*c == '<')
					return "'<' in attribute";
				if (*c == '&' && strncmp(c, "&amp;", 5) && strncmp(c, "&lt;", 4) &&
				    strncmp(c, "&gt;", 4) && strncmp(c, "&quot;", 6) &&
				    strncmp(c, "&#", 2))
					return "raw '&' in attribute";
			}
			q = end + 1;
			while (*q == ' ')
				q++;
		}
		if (*q == '/') {
			if (q[1] != '>')
				return "bad empty tag";
			if (depth == 0)
				roots++;
			p = q + 2;
			continue;
		}
		if (*q != '>')
			return "unterminated tag";
		if (depth == 64)
			return "too deep";
		if (depth == 0)
			roots++;
		stack[depth] = name;
		lens[depth] = nlen;
		depth++;
		p = q + 1;
	}
	if (depth != 0)
		return "unclosed element";
	return roots == 1 ? NULL : "not exactly one root";
}

#endif
