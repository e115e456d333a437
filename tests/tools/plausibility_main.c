/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plausibility: run the clinical plausibility rules over history documents
 * (fhirgen generate --format history), as bench/notes-stats does.
 *
 *   plausibility DATADIR FILE...
 *
 * Prints each finding about a note (at most 20) and a summary line:
 * histories, findings, findings about notes. Exits 0 when no note is
 * contradicted, 1 otherwise, 2 on bad usage or I/O.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/base/fg_data.h"
#include "generators/history/fg_history.h"
#include "validators/fg_findings.h"
#include "validators/fg_plausibility.h"

int main(int argc, char **argv)
{
    fg_plausibility_rules *rules = NULL;
    fg_findings f;
    fg_history h;
    fg_error err;
    long total = 0, notes = 0, printed = 0, histories = 0;
    if (argc < 3) {
        fprintf(stderr, "usage: plausibility DATADIR FILE...\n");
        return 2;
    }
    if (fg_plausibility_load(argv[1], &rules, &err) != FG_OK) {
        fprintf(stderr, "plausibility: %s: %s\n", err.where, err.text);
        return 2;
    }
    fg_findings_init(&f);
    fg_history_init(&h);
    for (int a = 2; a < argc; a++) {
        char *text = NULL;
        size_t len = 0;
        if (fg_read_file(argv[a], FG_MAX_HISTORY_BYTES, &text, &len, &err) != FG_OK ||
            fg_history_parse(&h, text, len, argv[a], &err) != FG_OK) {
            fprintf(stderr, "plausibility: %s: %s\n", err.where, err.text);
            free(text);
            return 2;
        }
        free(text);
        histories++;
        fg_findings_reset(&f);
        if (fg_plausibility_check(rules, &h, NULL, &f, &err) != FG_OK) {
            fprintf(stderr, "plausibility: %s\n", err.text);
            return 2;
        }
        total += (long)f.n;
        for (size_t k = 0; k < f.n; k++) {
            if (!f.v[k].list || strcmp(f.v[k].list, "notes"))
                continue;
            notes++;
            if (printed++ < 20)
                printf("%s: %s: %s\n", argv[a], f.v[k].path, f.v[k].message);
        }
    }
    printf("histories %ld findings %ld note_findings %ld\n", histories, total, notes);
    fg_findings_free(&f);
    fg_history_free(&h);
    fg_plausibility_free(rules);
    return notes ? 1 : 0;
}
