/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ground.c: grounding every term of a history against the terminology
 * tables; what cannot be grounded becomes a finding (validators/fg_findings.h).
 *
 * A term is matched by code when it has one (the code must be a row of its
 * system; the display must name the same concept) and by name otherwise.
 * The lookups are the terminology's own (fhir/term/fg_term.h), the ones the
 * mapper uses too: a code through the table's (system, code) index, a name
 * with fg_terminology_lookup_name, which forgives case, blanks and a SNOMED
 * CT semantic tag. What this file adds is the judgement a model needs: a
 * display naming another concept is a finding, and every finding says what
 * to write instead.
 */
#include "generators/llm/fg_ground.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/base/fg_buf.h"

/* ---- suggestions --------------------------------------------------------- */

/* Up to three displays of sys containing the longest word of text, as a
 * hint appended to msg ("; close: \"a\", \"b\""). */
static void suggest(const fg_terminology *t, const char *sys, const char *text, char *msg,
                    size_t size)
{
    char word[64] = "";
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, " ,;/()-");
        if (n > strlen(word) && n < sizeof(word)) {
            memcpy(word, p, n);
            word[n] = 0;
        }
        p += n + (p[n] != 0);
    }
    if (strlen(word) < 4)
        return;
    size_t used = strlen(msg), found = 0, cnt = fg_terminology_count(t);
    const char *prev = NULL;
    for (size_t i = 0; i < cnt && found < 3; i++) {
        const fg_code_entry *e = fg_terminology_at(t, i);
        if (strcmp(e->system, sys) != 0 || !strcasestr(e->display, word) ||
            (prev && strcmp(prev, e->display) == 0))
            continue;
        int w = snprintf(msg + used, size - used, "%s\"%s\" (%s)", found ? ", " : "; known: ",
                         e->display, e->code);
        if (w < 0 || (size_t)w >= size - used) {
            msg[used] = 0;
            return;
        }
        used += (size_t)w;
        prev = e->display;
        found++;
    }
}

/* ---- one term ------------------------------------------------------------ */

int fg_ground_term(const fg_terminology *t, const char *system, fg_term *term,
                   const fg_code_entry **entry, int *fixed, fg_finding_kind *kind, char *msg,
                   size_t msg_size)
{
    const char *sys = term->system ? term->system : system;
    const char *d = term->display;
    const fg_code_entry *e = NULL, *byname = NULL;
    *fixed = 0;
    if (!sys) {
        *kind = FG_FIND_UNKNOWN_TERM;
        snprintf(msg, msg_size, "a term needs a system");
        return FG_ENOTFOUND;
    }
    if (term->code) {
        e = fg_terminology_find(t, sys, term->code);
        if (!e) {
            int malformed = (strcmp(sys, FG_SYS_SNOMED) == 0 && !fg_snomed_valid(term->code)) ||
                            (strcmp(sys, FG_SYS_LOINC) == 0 && !fg_loinc_valid(term->code));
            *kind = FG_FIND_HALLUCINATED;
            byname = d ? fg_terminology_lookup_name(t, sys, d) : NULL;
            if (byname)
                snprintf(msg, msg_size,
                         "%s code \"%.40s\" %s; \"%.120s\" is %s code %s: use that code",
                         fg_system_name(sys), term->code,
                         malformed ? "is not a valid identifier (its check digit fails)"
                                   : "is not in fhirgen's terminology tables",
                         byname->display, fg_system_name(sys), byname->code);
            else
                snprintf(msg, msg_size,
                         "%s code \"%.40s\" %s; write a code from the tables, or code null with "
                         "a common name as display",
                         fg_system_name(sys), term->code,
                         malformed ? "is not a valid identifier (its check digit fails)"
                                   : "is not in fhirgen's terminology tables");
            return FG_ENOTFOUND;
        }
        if (d && strcmp(d, e->display) != 0 && !fg_terminology_same_name(d, e->display)) {
            byname = fg_terminology_lookup_name(t, sys, d);
            if (!byname || strcmp(byname->code, e->code) != 0) {
                *kind = FG_FIND_DISPLAY;
                if (byname)
                    snprintf(msg, msg_size,
                             "display \"%.120s\" names %s code %s, but the code is %s "
                             "(\"%.120s\"): write one concept, code and display together",
                             d, fg_system_name(sys), byname->code, e->code, e->display);
                else
                    snprintf(msg, msg_size,
                             "display \"%.120s\" does not match %s code %s, which is "
                             "\"%.120s\": use that display or the code of what you meant",
                             d, fg_system_name(sys), e->code, e->display);
                return FG_ENOTFOUND;
            }
        }
        *fixed = d && strcmp(d, e->display) != 0;
    } else {
        if (!d || !*d) {
            *kind = FG_FIND_UNKNOWN_TERM;
            snprintf(msg, msg_size, "a term needs a code or a display");
            return FG_ENOTFOUND;
        }
        e = fg_terminology_lookup_name(t, sys, d);
        if (!e) {
            *kind = FG_FIND_UNKNOWN_TERM;
            snprintf(msg, msg_size,
                     "\"%.160s\" is not a %s concept of fhirgen's terminology tables; use a "
                     "common name or a known code",
                     d, fg_system_name(sys));
            suggest(t, sys, d, msg, msg_size);
            return FG_ENOTFOUND;
        }
    }
    term->system = e->system;
    term->code = e->code;
    term->display = e->display;
    *entry = e;
    return FG_OK;
}

/* ---- a whole history ------------------------------------------------------ */

typedef struct gctx {
    const fg_terminology *t;
    fg_findings *out;
    int rc; /* first FG_ENOMEM */
} gctx;

/* Ground term at `list[index].<member>`; member may hold "[j]" parts. A
 * term whose code and display are both NULL is skipped when optional. */
static const fg_code_entry *ground(gctx *c, fg_term *term, const char *system, const char *list,
                                   size_t index, const char *member, int optional)
{
    char path[256], msg[FG_MAX_FINDING_BYTES];
    const fg_code_entry *e = NULL;
    fg_finding_kind kind;
    int fixed;
    if (optional && !term->code && !term->display)
        return NULL;
    /* The system the member takes; an allergy may name a drug (RxNorm). */
    if (system && term->system && strcmp(term->system, system) != 0 &&
        !(list && strcmp(list, "allergies") == 0 && strcmp(member, "term") == 0 &&
          strcmp(term->system, FG_SYS_RXNORM) == 0)) {
        if (list)
            snprintf(path, sizeof(path), "%s[%zu].%s.system", list, index, member);
        else
            snprintf(path, sizeof(path), "%s.system", member);
        if (fg_findings_add(c->out, FG_FIND_UNKNOWN_TERM, list, index, path,
                            "must be %s (%s), not \"%.100s\"", system, fg_system_name(system),
                            term->system) != FG_OK)
            c->rc = FG_ENOMEM;
        return NULL;
    }
    if (fg_ground_term(c->t, system, term, &e, &fixed, &kind, msg, sizeof(msg)) == FG_OK) {
        c->out->fixed += (size_t)fixed;
        return e;
    }
    if (list)
        snprintf(path, sizeof(path), "%s[%zu].%s%s", list, index, member,
                 kind == FG_FIND_HALLUCINATED ? ".code" : ".display");
    else
        snprintf(path, sizeof(path), "%s%s", member,
                 kind == FG_FIND_HALLUCINATED ? ".code" : ".display");
    if (fg_findings_add(c->out, kind, list, index, path, "%s", msg) != FG_OK)
        c->rc = FG_ENOMEM;
    return NULL;
}

/* A quantity's unit against the table's unit for its LOINC code. */
static void check_unit(gctx *c, const fg_code_entry *e, const char *unit, const char *list,
                       size_t index, const char *member)
{
    char path[256];
    if (!e || !unit)
        return;
    snprintf(path, sizeof(path), "%s[%zu].%s", list, index, member);
    int rc = FG_OK;
    if (!e->unit)
        rc = fg_findings_add(c->out, FG_FIND_UNIT, list, index, path,
                             "LOINC %s (\"%.120s\") is not a quantity in fhirgen's tables: give "
                             "no value or choose a quantity code",
                             e->code, e->display);
    else if (strcmp(unit, e->unit) != 0)
        rc = fg_findings_add(c->out, FG_FIND_UNIT, list, index, path,
                             "unit \"%.40s\" is not the unit of LOINC %s (\"%.120s\"): write the "
                             "value in \"%s\" (UCUM)",
                             unit, e->code, e->display, e->unit);
    if (rc != FG_OK)
        c->rc = rc;
}

/* A quantity code written without its number. */
static void not_quantity(gctx *c, const fg_code_entry *e, size_t i)
{
    char path[64];
    snprintf(path, sizeof(path), "observations[%zu].value_kind", i);
    if (fg_findings_add(c->out, FG_FIND_UNIT, "observations", i, path,
                        "LOINC %s (\"%.120s\") is a quantity: write value_kind \"quantity\" with "
                        "a value in \"%s\"",
                        e->code, e->display, e->unit) != FG_OK)
        c->rc = FG_ENOMEM;
}

static void ground_observations(gctx *c, fg_history *h)
{
    char member[64];
    for (size_t i = 0; i < h->observations.n; i++) {
        fg_observation *o = &h->observations.v[i];
        const fg_code_entry *e = ground(c, &o->term, FG_SYS_LOINC, "observations", i, "term", 0);
        if (o->kind == FG_VALUE_QUANTITY)
            check_unit(c, e, o->unit, "observations", i, "unit");
        if (o->kind == FG_VALUE_CODE)
            ground(c, &o->code_value, NULL, "observations", i, "code_value", 0);
        if (e && e->unit && o->kind != FG_VALUE_QUANTITY && !o->n_components)
            not_quantity(c, e, i);
        for (size_t j = 0; j < o->n_components; j++) {
            fg_component *k = &o->components[j];
            snprintf(member, sizeof(member), "components[%zu].term", j);
            e = ground(c, &k->term, FG_SYS_LOINC, "observations", i, member, 0);
            snprintf(member, sizeof(member), "components[%zu].unit", j);
            check_unit(c, e, k->unit, "observations", i, member);
        }
    }
}

int fg_ground_history(const fg_terminology *t, fg_history *h, fg_findings *out, fg_error *err)
{
    char member[64];
    if (!t || !h || !out)
        return fg_error_set(err, FG_EUSAGE, "grounding", "a terminology, a history and a "
                                                         "finding list are required");
    gctx c = {t, out, FG_OK};
    for (size_t i = 0; i < h->encounters.n; i++) {
        fg_encounter *x = &h->encounters.v[i];
        ground(&c, &x->type, FG_SYS_SNOMED, "encounters", i, "type", 0);
        ground(&c, &x->reason, FG_SYS_SNOMED, "encounters", i, "reason", 1);
    }
    for (size_t i = 0; i < h->conditions.n; i++)
        ground(&c, &h->conditions.v[i].term, FG_SYS_SNOMED, "conditions", i, "term", 0);
    ground_observations(&c, h);
    for (size_t i = 0; i < h->reports.n; i++)
        ground(&c, &h->reports.v[i].term, FG_SYS_LOINC, "reports", i, "term", 0);
    for (size_t i = 0; i < h->medications.n; i++)
        ground(&c, &h->medications.v[i].term, FG_SYS_RXNORM, "medications", i, "term", 0);
    for (size_t i = 0; i < h->immunizations.n; i++)
        ground(&c, &h->immunizations.v[i].term, FG_SYS_CVX, "immunizations", i, "term", 0);
    for (size_t i = 0; i < h->procedures.n; i++)
        ground(&c, &h->procedures.v[i].term, FG_SYS_SNOMED, "procedures", i, "term", 0);
    for (size_t i = 0; i < h->allergies.n; i++) {
        fg_allergy *a = &h->allergies.v[i];
        ground(&c, &a->term, FG_SYS_SNOMED, "allergies", i, "term", 0);
        ground(&c, &a->reaction, FG_SYS_SNOMED, "allergies", i, "reaction", 1);
    }
    for (size_t i = 0; i < h->careplans.n; i++) {
        fg_careplan *p = &h->careplans.v[i];
        ground(&c, &p->term, FG_SYS_SNOMED, "careplans", i, "term", 0);
        for (size_t j = 0; j < p->n_activities; j++) {
            snprintf(member, sizeof(member), "activities[%zu]", j);
            ground(&c, &p->activities[j], FG_SYS_SNOMED, "careplans", i, member, 0);
        }
    }
    for (size_t i = 0; i < h->notes.n; i++)
        ground(&c, &h->notes.v[i].type, FG_SYS_LOINC, "notes", i, "type", 0);
    ground(&c, &h->death_cause, FG_SYS_SNOMED, NULL, 0, "death_cause", 1);
    if (c.rc != FG_OK)
        return fg_error_set(err, c.rc, "grounding", "out of memory");
    return FG_OK;
}
