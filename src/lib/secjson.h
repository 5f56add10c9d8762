/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* JSON documents that carry secrets (enrollment bodies with volume keys, the
 * activation secret). json-c frees its string buffers without wiping them;
 * these wipe every string value of a tree the caller owns before the last
 * reference goes. Object keys are field names, never secret. */

#include <json-c/json.h>

void secjson_wipe(json_object *j);
/* secjson_wipe + json_object_put; for _cleanup_. */
void secjson_putp(json_object **j);
