/* SPDX-License-Identifier: MIT */
#ifndef GH_JSONX_H
#define GH_JSONX_H

/* The small json-c helpers every *_to_json shares. */

#include <json-c/json.h>

#include "util.h"

/* A string, or null (NULL) for NULL or "". */
struct json_object *gh_json_str_or_null(const char *s);
/* An array of the strings of sv (empty when none); NULL on allocation failure. */
struct json_object *gh_json_strv(const struct gh_strv *sv);

#endif
