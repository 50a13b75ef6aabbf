/* The command line's history client: `forja builds` and `forja logs` ask a running server over
 * its HTTP API (FORJA_URL, default http://127.0.0.1:8080; the token from FORJA_READ_TOKEN or
 * FORJA_API_TOKEN in the environment) and print a table or a log. */
#ifndef FORJA_CLIENT_H
#define FORJA_CLIENT_H

/* Whether NAME ("builds", "logs") is one of this module's commands. */
int client_is_command(const char *name);

/*
 * ARGV[0] is the command. `builds [--service S] [--status X] [--engine E] [--limit N]`: the
 * history, newest first, as a table. `logs [-f] ID`: the build's log; -f follows it until the
 * build ends. Returns the exit code: 0 done (for logs -f: the build succeeded), 1 the server
 * answered an error or cannot be reached (said on stderr; for logs -f: the build did not
 * succeed), 2 usage.
 */
int client_main(int argc, char **argv);

#endif
