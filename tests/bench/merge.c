/* SPDX-License-Identifier: MIT */
/*
 * Merges the benchmark programs' JSON files into one object, a key per
 * section, so tests/bench/run needs neither jq nor python.
 *
 *   bench_merge OUT section=FILE...
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	json_object *top;

	if (argc < 3) {
		fprintf(stderr, "usage: bench_merge OUT section=FILE...\n");
		return 2;
	}
	top = json_object_new_object();
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		json_object *sec;

		if (!eq || eq == argv[i]) {
			fprintf(stderr, "bench_merge: '%s' is not section=FILE\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		sec = json_object_from_file(eq + 1);
		if (!sec) {
			fprintf(stderr, "bench_merge: %s: %s\n", eq + 1, json_util_get_last_err());
			return 1;
		}
		json_object_object_add(top, argv[i], sec);
	}
	if (json_object_to_file_ext(argv[1], top, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0) {
		fprintf(stderr, "bench_merge: %s: %s\n", argv[1], json_util_get_last_err());
		return 1;
	}
	json_object_put(top);
	return 0;
}
