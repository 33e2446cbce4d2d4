/* placeholder, replaced in this session */
#include <stdio.h>
#include "commands.h"
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; fputs("heapsnap: run: not built yet\n", stderr); return 1; }
int cmd_snap(int argc, char **argv) { (void)argc; (void)argv; fputs("heapsnap: snap: not built yet\n", stderr); return 1; }
