/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine_json.c: the one way the engine reads a JSON data file (condition
 * modules, episode tables, note templates). Every file gets the same
 * checks: a size limit, duplicate keys refused, and an error that names the
 * file as the data folder shows it, with line and column.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "fhir/base/fg_data.h"
#include "generators/engine/engine_private.h"

int eng_json_load(const char *path, const char *shown, size_t max, json_t **out, fg_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = fg_read_file(path, max, &text, &len, err);
    if (rc != FG_OK) {
        if (err)
            snprintf(err->where, sizeof(err->where), "%s", shown);
        return rc;
    }
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!doc) {
        rc = fg_error_set(err, FG_EINVALID, shown, "line %d column %d: %s", je.line, je.column,
                          je.text);
        if (err)
            err->line = je.line;
        return rc;
    }
    *out = doc;
    return FG_OK;
}
