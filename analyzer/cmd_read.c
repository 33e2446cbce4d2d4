/* placeholder, replaced in this session */
#include <stdio.h>
#include "commands.h"
int cmd_top(int argc, char **argv) { (void)argc; (void)argv; fputs("heapsnap: top: not built yet\n", stderr); return 1; }
int cmd_diff(int argc, char **argv) { (void)argc; (void)argv; fputs("heapsnap: diff: not built yet\n", stderr); return 1; }
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; fputs("heapsnap: info: not built yet\n", stderr); return 1; }
