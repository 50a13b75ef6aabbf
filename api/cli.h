/* The command line's `forja build`: one build through the same build method the server uses,
 * with the log printed live and the pushed image@digest at the end. */
#ifndef FORJA_CLI_H
#define FORJA_CLI_H

#include "../src/config.h"

/* ARGV[0] is "build". Returns the process exit code (0 on success). */
int cli_build_main(int argc, char **argv, const struct config *cfg);

#endif
