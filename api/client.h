/* The command line's history client: `forja builds` and `forja logs` ask a running server over
 * its HTTP API (FORJA_URL, default http://127.0.0.1:8080; the token from FORJA_READ_TOKEN or
 * FORJA_API_TOKEN in the environment) and print a table or a log. */
#ifndef FORJA_CLIENT_H
#define FORJA_CLIENT_H

/*
 * ARGV[0] is the command, which api/main.c chooses. Each answers --help or -h (as its first
 * argument) with the usage of both on stdout.
 * `builds [--service S] [--status X] [--engine E] [--limit N]`: the history, newest first, as a
 * table. `logs [-f] ID`: the build's log; -f follows it until the build ends. Each returns the
 * exit code: 0 done (for logs -f: the build succeeded), 1 the server answered an error or
 * cannot be reached (said on stderr; for logs -f: the build did not succeed), 2 usage.
 */
int client_builds_main(int argc, char **argv);
int client_logs_main(int argc, char **argv);

#endif
