/* SPDX-License-Identifier: MIT */
#include "jsonx.h"

struct json_object *gh_json_str_or_null(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

struct json_object *gh_json_strv(const struct gh_strv *sv)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < sv->n; i++)
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	return a;
}
