/*
 * meshtuned.c -- main(): the command line, then the daemon.
 */
#include <stdio.h>
#include <stdlib.h>

#include "meshtuned.h"

int
main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("meshtuned %s\n", "0.1.0");
	return 0;
}
