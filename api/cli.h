/* The command line's `forja build`: one build through the same build method the server uses,
 * with the log printed live and the pushed image@digest at the end. */
#ifndef FORJA_CLI_H
#define FORJA_CLI_H

#include "../src/config.h"

/*
 * ARGV[0] is "build"; the flags follow (--service, --version, --type, --git, --ref, --context,
 * --dockerfile, --build-arg K=V repeated, --help). CFG (borrowed) gives the engine, registry,
 * data dir and build timeout. The log goes to stdout live, the last stdout line is
 * REGISTRY/SERVICE@DIGEST. SIGINT/SIGTERM cancel the build. The build is recorded in the
 * history (trigger cli) when CFG->data_dir opens. Returns the process exit code: 0 pushed,
 * 1 failed (or the type is not docker), 2 usage or invalid input.
 */
int cli_build_main(int argc, char **argv, const struct config *cfg);

#endif
