/* placeholder, replaced in this session */
#include <stdio.h>
#include "commands.h"
int cmd_collect(int argc, char **argv) { (void)argc; (void)argv; fputs("heapsnap: collect: not built yet\n", stderr); return 1; }
