#include "cli.h"
#include <stdio.h>
/* stub: replaced by the build command */
int cli_build_main(int argc, char **argv, const struct config *cfg) { fprintf(stderr, "forja build: not implemented yet\n"); return 2; }
