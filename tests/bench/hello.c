/* SPDX-License-Identifier: MIT */
/* The floor for a hook run: a process that starts, writes one line and exits. */
#include <unistd.h>

int main(void)
{
	return write(STDOUT_FILENO, "hello\n", 6) == 6 ? 0 : 1;
}
