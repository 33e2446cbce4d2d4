/* checkmain.h - the end of every Check runner's main(). */
#pragma once

#include <check.h>
#include <stdlib.h>

/* Runs every test of s, in Check's default (fork) mode; returns main's exit status. */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
