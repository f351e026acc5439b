/* cmd.h: the subcommands of the blikveld binary. Each takes argv with argv[0] = its own name
 * and returns the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef BV_CMD_H
#define BV_CMD_H

int bv_cmd_check(int argc, char **argv);
int bv_cmd_replay(int argc, char **argv);

#endif
