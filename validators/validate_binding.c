/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate_binding.c: codes against the value sets of required and
 * extensible bindings.
 *
 * code, Coding, CodeableConcept, Quantity (its system and code), and string
 * or uri elements with a binding. Required: an error when no coding is in
 * the expansion (for a CodeableConcept one member coding is enough);
 * extensible: a warning. A value set that is not loaded or not expandable
 * is recorded once in the not-checked list and never raises an issue.
 */
#include <stdio.h>
#include <string.h>

#include "validators/validate_private.h"

/* 1 usable, 0 not (and recorded as not checked). */
static int usable(fgv_ctx *c, const fg_elem *def)
{
    const fg_valueset *vs = def->binding_exp;
    const char *url = def->binding_vs ? def->binding_vs : "(no value set)";
    if (vs != NULL && fg_valueset_status(vs) == FG_VS_EXPANDED)
        return 1;
    if (!fgv_once(c->v, def->binding_vs))
        return 0; /* recorded already */
    char key[600];
    snprintf(key, sizeof key, "value set %s not checked", url);
    if (vs == NULL) {
        fgv_not_checked_key(c, key, "%s: it is not loaded (first met at %s)", key,
                            def->path ? def->path : "?");
        return 0;
    }
    if (fg_valueset_status(vs) != FG_VS_EXPANDED) {
        const char *why = fg_valueset_note(vs);
        fgv_not_checked_key(c, key, "%s: %s", key, why ? why : "it cannot be expanded");
        return 0;
    }
    return 1;
}

static const char *str(const fg_jv *o, const char *k)
{
    const fg_jv *v = fg_jv_get(o, k);
    return fg_jv_is_string(v) ? fg_jv_str(v) : NULL;
}

static void report(fgv_ctx *c, const fg_elem *def, const char *what)
{
    int req = def->binding == FG_BIND_REQUIRED;
    fgv_issue(c, req ? FG_SEV_ERROR : FG_SEV_WARNING, FG_CHECK_BINDING, "code-invalid", NULL,
              "%s is not in value set %s (%s binding)%s", what, def->binding_vs,
              req ? "required" : "extensible",
              req ? ": use a code from that value set" : "");
}

void fgv_binding(fgv_ctx *c, const fg_jv *val, const fg_elem *def, const char *type)
{
    if (type == NULL || def->binding < FG_BIND_EXTENSIBLE)
        return;
    char what[300];
    if (fg_jv_is_string(val)) {
        /* code, string, uri: the value itself is the code */
        if (!usable(c, def))
            return;
        const char *code = fg_jv_str(val);
        if (!fg_valueset_contains(def->binding_exp, NULL, code)) {
            snprintf(what, sizeof what, "Code '%.200s'", code);
            report(c, def, what);
        }
        return;
    }
    if (!fg_jv_is_object(val))
        return;
    if (strcmp(type, "Coding") == 0 || strcmp(type, "Quantity") == 0
        || strcmp(type, "SimpleQuantity") == 0 || strcmp(type, "Age") == 0
        || strcmp(type, "Duration") == 0 || strcmp(type, "Distance") == 0
        || strcmp(type, "Count") == 0 || strcmp(type, "MoneyQuantity") == 0) {
        const char *code = str(val, "code");
        if (code == NULL)
            return;
        if (!usable(c, def))
            return;
        const char *sys = str(val, "system");
        if (!fg_valueset_contains(def->binding_exp, sys, code)) {
            snprintf(what, sizeof what, "Code %.100s|%.100s", sys ? sys : "", code);
            report(c, def, what);
        }
        return;
    }
    if (strcmp(type, "CodeableConcept") == 0) {
        const fg_jv *codings = fg_jv_get(val, "coding");
        size_t n = fg_jv_is_array(codings) ? fg_jv_array_size(codings) : 0;
        int any_code = 0;
        const char *first_sys = NULL, *first_code = NULL;
        for (size_t i = 0; i < n; i++) {
            const fg_jv *cd = fg_jv_at(codings, i);
            const char *code = str(cd, "code");
            if (code == NULL)
                continue;
            if (!any_code) {
                if (!usable(c, def))
                    return;
                first_sys = str(cd, "system");
                first_code = code;
            }
            any_code = 1;
            if (fg_valueset_contains(def->binding_exp, str(cd, "system"), code))
                return;
        }
        if (!any_code) {
            /* Text only: a required binding wants a code; an extensible
             * one allows text when no code fits. */
            if (def->binding == FG_BIND_REQUIRED && usable(c, def))
                fgv_issue(c, FG_SEV_ERROR, FG_CHECK_BINDING, "code-invalid", NULL,
                          "No code given, but a code from value set %s is required",
                          def->binding_vs);
            return;
        }
        snprintf(what, sizeof what, "No coding (first: %.100s|%.100s)",
                 first_sys ? first_sys : "", first_code);
        report(c, def, what);
    }
}
