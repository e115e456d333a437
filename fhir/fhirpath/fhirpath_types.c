/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fhirpath_types.c: what an item is (its FHIR or System type), how two
 * items compare (=, ~, <) and how one prints, including FHIR's partial
 * dates and times: comparing values of different precision can give no
 * answer (an empty result) instead of a wrong one.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fhir/fhirpath/fhirpath_private.h"

/* FHIR primitive types, each with the type it specialises (or NULL). */
static const struct {
    const char *name;
    const char *parent;
    const char *choice; /* suffix of a choice element */
} prims[] = {
    {"boolean", NULL, "Boolean"},        {"integer", NULL, "Integer"},
    {"string", NULL, "String"},          {"decimal", NULL, "Decimal"},
    {"uri", NULL, "Uri"},                {"url", "uri", "Url"},
    {"canonical", "uri", "Canonical"},   {"base64Binary", NULL, "Base64Binary"},
    {"instant", NULL, "Instant"},        {"date", NULL, "Date"},
    {"dateTime", NULL, "DateTime"},      {"time", NULL, "Time"},
    {"code", "string", "Code"},          {"oid", "uri", "Oid"},
    {"id", "string", "Id"},              {"markdown", "string", "Markdown"},
    {"unsignedInt", "integer", "UnsignedInt"}, {"positiveInt", "integer", "PositiveInt"},
    {"uuid", "uri", "Uuid"},             {"xhtml", NULL, "Xhtml"},
    {"integer64", NULL, "Integer64"},
};
#define NPRIMS (sizeof(prims) / sizeof(prims[0]))

/* The complex types a choice element ([x]) may take in R4. */
static const char *const choice_complex[] = {
    "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactPoint",
    "Count", "Distance", "Duration", "HumanName", "Identifier", "Money", "Period", "Quantity",
    "Range", "Ratio", "Reference", "SampledData", "Signature", "Timing", "ContactDetail",
    "Contributor", "DataRequirement", "Expression", "ParameterDefinition", "RelatedArtifact",
    "TriggerDefinition", "UsageContext", "Dosage", "Meta",
};

/* The names of the choice elements (path ending in [x]) of the R4 core
 * definitions, sorted: only these are looked up with a type suffix, so
 * `response` does not find TestScript's `responseCode`. */
static const char *const choice_names[] = {
    "abatement", "additive", "age", "allowed", "amount", "answer", "asNeeded", "author", "born",
    "bounds", "characteristic", "chargeItem", "code", "collected", "content", "created", "date",
    "deceased", "defaultValue", "definingSubstance", "definition", "detail", "diagnosis", "done",
    "dose", "doseNumber", "due", "effective", "entity", "event", "example", "fastingStatus",
    "fixed", "identified", "indication", "item", "legallyBinding", "location", "manufacturer",
    "maxValue", "medication", "minValue", "minimumVolume", "module", "multipleBirth", "name",
    "occurred", "occurrence", "offset", "onset", "participantEffective", "pattern", "performed",
    "probability", "procedure", "product", "quantity", "rate", "reported", "scheduled",
    "seriesDoses", "serviced", "source", "start", "statusReason", "studyEffective", "subject",
    "substance", "target", "time", "timing", "topic", "used", "value", "what", "when", "where",
    "why",
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fp_is_choice_name(const char *name)
{
    return bsearch(&name, choice_names, sizeof(choice_names) / sizeof(choice_names[0]),
                   sizeof(choice_names[0]), cmp_name) != NULL;
}

const char *fp_choice_type(const char *suffix)
{
    if (!suffix || suffix[0] < 'A' || suffix[0] > 'Z')
        return NULL;
    for (size_t k = 0; k < NPRIMS; k++)
        if (strcmp(prims[k].choice, suffix) == 0)
            return prims[k].name;
    for (size_t k = 0; k < sizeof(choice_complex) / sizeof(choice_complex[0]); k++)
        if (strcmp(choice_complex[k], suffix) == 0)
            return choice_complex[k];
    return NULL;
}

static int prim_index(const char *name)
{
    for (size_t k = 0; k < NPRIMS; k++)
        if (strcmp(prims[k].name, name) == 0)
            return (int)k;
    return -1;
}

static int is_date_type(const char *t)
{
    return t && (strcmp(t, "date") == 0 || strcmp(t, "dateTime") == 0 ||
                 strcmp(t, "instant") == 0);
}

int fp_prim(const fp_item *it, fp_item *out)
{
    *out = *it;
    if (it->kind != FPV_JSON)
        return it->kind;
    const fg_jv *j = it->json;
    if (!j)
        return -1;
    switch (fg_jv_typeof(j)) {
    case FG_JV_STRING:
        out->s = fg_jv_str(j);
        out->n = fg_jv_len(j);
        out->kind = FPV_STR;
        if (is_date_type(it->type))
            out->kind = strcmp(it->type, "date") == 0 ? FPV_DATE : FPV_DATETIME;
        else if (it->type && strcmp(it->type, "time") == 0)
            out->kind = FPV_TIME;
        break;
    case FG_JV_INTEGER:
        out->kind = FPV_INT;
        out->i = fg_jv_integer(j);
        break;
    case FG_JV_REAL:
        out->kind = FPV_DEC;
        out->d = fg_jv_number(j);
        break;
    case FG_JV_TRUE:
    case FG_JV_FALSE:
        out->kind = FPV_BOOL;
        out->i = fg_jv_is_true(j);
        break;
    default:
        break;
    }
    return out->kind;
}

const char *fp_item_type(const fp_item *it)
{
    static const char *const names[] = {"object", "Boolean", "Integer", "Decimal", "String",
                                        "Date", "DateTime", "Time", "Quantity"};
    const char *t = fp_type(it);
    if (it->kind == FPV_JSON && t)
        return t;
    if (it->kind == FPV_JSON) {
        if (fg_jv_is_string(it->json))
            return "string";
        if (fg_jv_is_integer(it->json))
            return "integer";
        if (fg_jv_is_real(it->json))
            return "decimal";
        if (fg_jv_is_boolean(it->json))
            return "boolean";
        return "object";
    }
    return names[it->kind];
}

/* Does FHIR primitive type t specialise (or equal) name? */
static int prim_is(const char *t, const char *name)
{
    while (t) {
        if (strcmp(t, name) == 0)
            return 1;
        int k = prim_index(t);
        t = k >= 0 ? prims[k].parent : NULL;
    }
    return 0;
}

/* The R4 complex types that specialise another (Age is a Quantity), and
 * every element type is an Element. */
static int complex_is(const char *t, const char *type)
{
    static const char *const quantities[] = {"Age", "Count", "Distance", "Duration",
                                             "MoneyQuantity", "SimpleQuantity"};
    if (strcmp(type, "Quantity") == 0) {
        for (size_t k = 0; k < sizeof(quantities) / sizeof(quantities[0]); k++)
            if (strcmp(t, quantities[k]) == 0)
                return 1;
        return 0;
    }
    if (strcmp(type, "Element") == 0)
        return t[0] != '\0';
    if (strcmp(type, "BackboneElement") == 0)
        return strchr(t, '.') != NULL; /* backbone types are named by their path */
    return 0;
}

int fp_is_type(const fp_item *it, const char *type)
{
    int fhir_only = 0, system_only = 0;
    if (strncmp(type, "FHIR.", 5) == 0) {
        fhir_only = 1;
        type += 5;
    } else if (strncmp(type, "System.", 7) == 0) {
        system_only = 1;
        type += 7;
    }
    if (it->kind != FPV_JSON) {
        if (fhir_only)
            return 0;
        static const char *const sys[] = {NULL, "Boolean", "Integer", "Decimal", "String",
                                          "Date", "DateTime", "Time", "Quantity"};
        return strcasecmp(sys[it->kind], type) == 0;
    }
    const fg_jv *j = it->json;
    const char *t = fp_type(it);
    if (t) {
        if (!system_only && prim_is(t, type))
            return 1;
        if (!fhir_only && !system_only && prim_index(t) >= 0 && type[0] >= 'A' &&
            type[0] <= 'Z') {
            /* `answer is Boolean` on a FHIR boolean: the System type of its value. */
            fp_item v;
            if (fp_prim(it, &v) < 0 || v.kind == FPV_JSON)
                return 0;
            if (v.kind == FPV_STR && strcmp(t, "date") == 0)
                v.kind = FPV_DATE;
            return fp_is_type(&v, type);
        }
        if (fg_jv_is_object(j) && fg_jv_get(j, "resourceType") &&
            (strcmp(type, "Resource") == 0 || strcmp(type, "DomainResource") == 0))
            return 1;
        if (!system_only && complex_is(t, type))
            return 1;
        if (system_only || prim_index(t) >= 0) {
            /* A FHIR primitive read as its System type. */
            fp_item v;
            if (fp_prim(it, &v) < 0 || v.kind == FPV_JSON)
                return 0;
            return system_only && fp_is_type(&v, type);
        }
        return 0;
    }
    /* Type unknown: judge by the JSON. */
    if (fg_jv_is_object(j) || fg_jv_is_array(j) || !j)
        return 0;
    int k = prim_index(type);
    if (system_only || k < 0) {
        fp_item v;
        if (fp_prim(it, &v) < 0)
            return 0;
        return fp_is_type(&v, type) && (system_only || strcmp(type, "Boolean") != 0);
    }
    if (fg_jv_is_string(j))
        return strcmp(type, "boolean") != 0 && strcmp(type, "integer") != 0 &&
               strcmp(type, "decimal") != 0 && strcmp(type, "unsignedInt") != 0 &&
               strcmp(type, "positiveInt") != 0;
    if (fg_jv_is_boolean(j))
        return strcmp(type, "boolean") == 0;
    if (fg_jv_is_integer(j))
        return prim_is(type, "integer") || strcmp(type, "decimal") == 0;
    return strcmp(type, "decimal") == 0;
}

/* ---- dates and times ---- */

typedef struct dt {
    int y, mo, d, h, mi;
    int ms; /* milliseconds within the minute */
    int prec; /* 1 year .. 6 seconds */
    int tz, has_tz; /* offset in minutes */
    int time_only;
} dt;

static int digits(const char *s, size_t n, size_t *pos, int count, int *val)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*pos >= n || !isdigit((unsigned char)s[*pos]))
            return 0;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *val = v;
    return 1;
}

static int parse_time_part(const char *s, size_t n, size_t *pos, dt *t)
{
    if (!digits(s, n, pos, 2, &t->h) || t->h > 23)
        return 0;
    t->prec = 4;
    if (*pos < n && s[*pos] == ':') {
        (*pos)++;
        if (!digits(s, n, pos, 2, &t->mi) || t->mi > 59)
            return 0;
        t->prec = 5;
        if (*pos < n && s[*pos] == ':') {
            (*pos)++;
            int sec;
            if (!digits(s, n, pos, 2, &sec) || sec > 60)
                return 0;
            t->ms = sec * 1000;
            t->prec = 6;
            if (*pos < n && s[*pos] == '.') {
                (*pos)++;
                int scale = 100, any = 0;
                while (*pos < n && isdigit((unsigned char)s[*pos])) {
                    t->ms += (s[*pos] - '0') * scale;
                    scale /= 10;
                    (*pos)++;
                    any = 1;
                }
                if (!any)
                    return 0;
            }
        }
    }
    return 1;
}

static int parse_dt(const char *s, size_t n, dt *t)
{
    memset(t, 0, sizeof(*t));
    size_t pos = 0;
    if (n && s[0] == 'T') {
        pos = 1;
        t->time_only = 1;
        return parse_time_part(s, n, &pos, t) && pos == n;
    }
    if (n >= 3 && s[2] == ':') {
        t->time_only = 1;
        return parse_time_part(s, n, &pos, t) && pos == n;
    }
    if (!digits(s, n, &pos, 4, &t->y))
        return 0;
    t->prec = 1;
    t->mo = 1;
    t->d = 1;
    if (pos < n && s[pos] == '-') {
        pos++;
        if (!digits(s, n, &pos, 2, &t->mo) || t->mo < 1 || t->mo > 12)
            return 0;
        t->prec = 2;
        if (pos < n && s[pos] == '-') {
            pos++;
            if (!digits(s, n, &pos, 2, &t->d) || t->d < 1 || t->d > 31)
                return 0;
            t->prec = 3;
        }
    }
    if (pos < n && s[pos] == 'T') {
        pos++;
        if (pos < n && !parse_time_part(s, n, &pos, t))
            return 0;
    }
    if (pos < n && s[pos] == 'Z') {
        t->has_tz = 1;
        pos++;
    } else if (pos < n && (s[pos] == '+' || s[pos] == '-')) {
        int sign = s[pos] == '-' ? -1 : 1, hh, mm;
        pos++;
        if (!digits(s, n, &pos, 2, &hh) || pos >= n || s[pos] != ':')
            return 0;
        pos++;
        if (!digits(s, n, &pos, 2, &mm))
            return 0;
        t->tz = sign * (hh * 60 + mm);
        t->has_tz = 1;
    }
    return pos == n;
}

int fp_parse_datetime(const char *s, size_t n, int *kind)
{
    dt t;
    if (!parse_dt(s, n, &t))
        return 0;
    *kind = t.time_only ? FPV_TIME : memchr(s, 'T', n) ? FPV_DATETIME : FPV_DATE;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long long days_of(int y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* 1 decided (*cmp set), 0 no answer (precisions differ). */
static int dt_compare(const dt *a, const dt *b, int *cmp)
{
    if (a->time_only != b->time_only)
        return 0;
    if (a->prec >= 5 && b->prec >= 5) {
        long long ta = (a->time_only ? 0 : days_of(a->y, a->mo, a->d)) * 1440 + a->h * 60 +
                       a->mi - a->tz;
        long long tb = (b->time_only ? 0 : days_of(b->y, b->mo, b->d)) * 1440 + b->h * 60 +
                       b->mi - b->tz;
        if (ta != tb) {
            *cmp = ta < tb ? -1 : 1;
            return 1;
        }
        if (a->prec != b->prec)
            return 0;
        *cmp = (a->ms > b->ms) - (a->ms < b->ms);
        return 1;
    }
    int fa[5] = {a->y, a->mo, a->d, a->h, a->mi};
    int fb[5] = {b->y, b->mo, b->d, b->h, b->mi};
    int first = a->time_only ? 3 : 0;
    int lo = a->prec < b->prec ? a->prec : b->prec;
    for (int k = first; k < lo && k < 5; k++) {
        if (fa[k] != fb[k]) {
            *cmp = fa[k] < fb[k] ? -1 : 1;
            return 1;
        }
    }
    if (a->prec != b->prec)
        return 0;
    *cmp = 0;
    return 1;
}

static void civil_from_days(long long z, int *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int fp_date_add(fp_ctx *c, const fp_item *date, int sign, const fp_item *qty, fp_item *out)
{
    static const struct {
        const char *unit;
        int field; /* 1 year 2 month 3 week 4 day 5 hour 6 minute 7 second */
    } units[] = {
        {"year", 1},   {"years", 1},   {"a", 1},       {"month", 2},  {"months", 2},
        {"mo", 2},     {"week", 3},    {"weeks", 3},   {"wk", 3},     {"day", 4},
        {"days", 4},   {"d", 4},       {"hour", 5},    {"hours", 5},  {"h", 5},
        {"minute", 6}, {"minutes", 6}, {"min", 6},     {"second", 7}, {"seconds", 7},
        {"s", 7},
    };
    int field = 0;
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]) && !field; k++)
        if (strlen(units[k].unit) == qty->n && memcmp(units[k].unit, qty->s, qty->n) == 0)
            field = units[k].field;
    dt t;
    if (!field || !parse_dt(date->s, date->n, &t) || t.time_only)
        return 0;
    if (fabs(qty->d) > 1e6)
        return 0;
    long long amount = (long long)qty->d * sign;
    int prec_needed = field <= 2 ? field : field <= 4 ? 3 : field == 5 ? 4 : field == 6 ? 5 : 6;
    if (prec_needed > t.prec)
        return 0; /* finer than the date: no answer */
    if (field <= 2) {
        long long months = (long long)t.y * 12 + (t.mo - 1) + (field == 1 ? amount * 12 : amount);
        if (months < 12 || months >= 10000LL * 12)
            return 0; /* outside years 1..9999 */
        t.y = (int)(months / 12);
        t.mo = (int)(months % 12) + 1;
        if (t.d > days_in_month(t.y, t.mo))
            t.d = days_in_month(t.y, t.mo);
    } else {
        long long minutes = days_of(t.y, t.mo, t.d) * 1440 + t.h * 60 + t.mi;
        long long ms = t.ms;
        if (field == 3)
            minutes += amount * 7 * 1440;
        else if (field == 4)
            minutes += amount * 1440;
        else if (field == 5)
            minutes += amount * 60;
        else if (field == 6)
            minutes += amount;
        else {
            ms += amount * 1000;
            long long carry = ms >= 0 ? ms / 60000 : -((-ms + 59999) / 60000);
            minutes += carry;
            ms -= carry * 60000;
        }
        long long days = minutes >= 0 ? minutes / 1440 : -((-minutes + 1439) / 1440);
        long long rest = minutes - days * 1440;
        civil_from_days(days, &t.y, &t.mo, &t.d);
        t.h = (int)(rest / 60);
        t.mi = (int)(rest % 60);
        t.ms = (int)ms;
    }
    if (t.y < 1 || t.y > 9999)
        return 0;
    char buf[64];
    int len = snprintf(buf, sizeof(buf), "%04d", t.y);
    if (t.prec >= 2)
        len += snprintf(buf + len, sizeof(buf) - (size_t)len, "-%02d", t.mo);
    if (t.prec >= 3)
        len += snprintf(buf + len, sizeof(buf) - (size_t)len, "-%02d", t.d);
    if (t.prec >= 4)
        len += snprintf(buf + len, sizeof(buf) - (size_t)len, "T%02d", t.h);
    if (t.prec >= 5)
        len += snprintf(buf + len, sizeof(buf) - (size_t)len, ":%02d", t.mi);
    if (t.prec >= 6) {
        len += snprintf(buf + len, sizeof(buf) - (size_t)len, ":%02d", t.ms / 1000);
        if (t.ms % 1000)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, ".%03d", t.ms % 1000);
    }
    if (t.has_tz && t.prec >= 4) {
        if (t.tz == 0)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, "Z");
        else
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%c%02d:%02d",
                            t.tz < 0 ? '-' : '+', abs(t.tz) / 60, abs(t.tz) % 60);
    }
    char *s = fp_strndup(c, buf, (size_t)len);
    if (!s)
        return -1;
    *out = (fp_item){.kind = date->kind == FPV_DATE ? FPV_DATE : FPV_DATETIME, .s = s,
                     .n = (size_t)len};
    return 1;
}

static int is_datekind(int k)
{
    return k == FPV_DATE || k == FPV_DATETIME || k == FPV_TIME;
}

/* Both items as dates when either is one (or, for ordering, when both
 * strings read as dates): 1 parsed, 0 not dates. */
static int as_dates(const fp_item *a, const fp_item *b, int strings_too, dt *da, dt *db)
{
    int want = is_datekind(a->kind) || is_datekind(b->kind);
    if (!want && !(strings_too && a->kind == FPV_STR && b->kind == FPV_STR))
        return 0;
    if ((a->kind != FPV_STR && !is_datekind(a->kind)) ||
        (b->kind != FPV_STR && !is_datekind(b->kind)))
        return 0;
    return parse_dt(a->s, a->n, da) && parse_dt(b->s, b->n, db);
}

static int num_cmp(const fp_item *a, const fp_item *b)
{
    if (a->kind == FPV_INT && b->kind == FPV_INT)
        return (a->i > b->i) - (a->i < b->i);
    double x = a->kind == FPV_INT ? (double)a->i : a->d;
    double y = b->kind == FPV_INT ? (double)b->i : b->d;
    return (x > y) - (x < y);
}

static int is_num(int k)
{
    return k == FPV_INT || k == FPV_DEC;
}

static int str_cmp(const fp_item *a, const fp_item *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    int r = memcmp(a->s, b->s, n);
    if (r)
        return r < 0 ? -1 : 1;
    return (a->n > b->n) - (a->n < b->n);
}

int fp_equal(const fp_item *x, const fp_item *y)
{
    fp_item a, b;
    if (fp_prim(x, &a) < 0 || fp_prim(y, &b) < 0)
        return -1;
    if (a.kind == FPV_JSON || b.kind == FPV_JSON) {
        if (a.kind != b.kind)
            return 0;
        return fg_jv_equal(a.json, b.json);
    }
    if (is_num(a.kind) && is_num(b.kind))
        return num_cmp(&a, &b) == 0;
    dt da, db;
    int cmp = 0;
    /* Two strings of the input that both read as dates (their types are
     * seldom known here) compare as dates: time zones and precision count. */
    int both_json = x->kind == FPV_JSON && y->kind == FPV_JSON;
    if (as_dates(&a, &b, both_json, &da, &db)) {
        if (!dt_compare(&da, &db, &cmp))
            return -1;
        return cmp == 0;
    }
    if ((a.kind == FPV_STR || is_datekind(a.kind)) && (b.kind == FPV_STR || is_datekind(b.kind)))
        return str_cmp(&a, &b) == 0;
    if (a.kind == FPV_BOOL && b.kind == FPV_BOOL)
        return a.i == b.i;
    if (a.kind == FPV_QTY && b.kind == FPV_QTY)
        return a.d == b.d && a.n == b.n && memcmp(a.s, b.s, a.n) == 0;
    return 0;
}

/* Compare strings ignoring case and runs of whitespace. */
static int str_equiv(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < an && isspace((unsigned char)a[i]) && (i == 0 || isspace((unsigned char)a[i - 1])))
            i++;
        while (j < bn && isspace((unsigned char)b[j]) && (j == 0 || isspace((unsigned char)b[j - 1])))
            j++;
        if (i >= an || j >= bn)
            break;
        char ca = isspace((unsigned char)a[i]) ? ' ' : (char)tolower((unsigned char)a[i]);
        char cb = isspace((unsigned char)b[j]) ? ' ' : (char)tolower((unsigned char)b[j]);
        if (ca != cb)
            return 0;
        i++;
        j++;
    }
    while (i < an && isspace((unsigned char)a[i]))
        i++;
    while (j < bn && isspace((unsigned char)b[j]))
        j++;
    return i >= an && j >= bn;
}

int fp_equivalent(const fp_item *x, const fp_item *y)
{
    fp_item a, b;
    int ka = fp_prim(x, &a), kb = fp_prim(y, &b);
    if (ka < 0 || kb < 0)
        return ka < 0 && kb < 0;
    if ((a.kind == FPV_STR) && (b.kind == FPV_STR))
        return str_equiv(a.s, a.n, b.s, b.n);
    if (is_num(a.kind) && is_num(b.kind)) {
        double p = a.kind == FPV_INT ? (double)a.i : a.d;
        double q = b.kind == FPV_INT ? (double)b.i : b.d;
        return fabs(p - q) < 1e-9 * (fabs(p) + fabs(q) + 1);
    }
    int e = fp_equal(x, y);
    return e == 1;
}

/* A Quantity (a JSON object of a quantity type, or of quantity shape when
 * its type is unknown, or a quantity literal) as value and unit. */
static int qty_view(const fp_item *it, double *value, const char **unit, size_t *ulen)
{
    static const char *const qtypes[] = {"Quantity", "SimpleQuantity", "Age", "Duration",
                                         "Count", "Distance", "MoneyQuantity"};
    if (it->kind == FPV_QTY) {
        *value = it->d;
        *unit = it->s;
        *ulen = it->n;
        return 1;
    }
    if (it->kind != FPV_JSON || !fg_jv_is_object(it->json))
        return 0;
    int known = 0;
    const char *t = fp_type(it);
    for (size_t k = 0; t && k < sizeof(qtypes) / sizeof(qtypes[0]); k++)
        known |= strcmp(t, qtypes[k]) == 0;
    const fg_jv *v = fg_jv_get(it->json, "value");
    if (!fg_jv_is_number(v))
        return 0;
    if (!known && t)
        return 0;
    if (!known) {
        const char *key;
        const fg_jv *val;
        fg_jv_object_foreach(it->json, key, val) {
            (void)val;
            if (strcmp(key, "value") && strcmp(key, "unit") && strcmp(key, "code") &&
                strcmp(key, "system") && strcmp(key, "comparator") && strcmp(key, "id") &&
                strcmp(key, "extension") && key[0] != '_')
                return 0;
        }
    }
    *value = fg_jv_number(v);
    const fg_jv *u = fg_jv_get(it->json, "code");
    if (!fg_jv_is_string(u))
        u = fg_jv_get(it->json, "unit");
    *unit = fg_jv_is_string(u) ? fg_jv_str(u) : "";
    *ulen = strlen(*unit);
    return 1;
}

int fp_compare(fp_ctx *c, const fp_item *x, const fp_item *y, int *cmp)
{
    fp_item a, b;
    double qa, qb;
    const char *ua, *ub;
    size_t la, lb;
    if (qty_view(x, &qa, &ua, &la) && qty_view(y, &qb, &ub, &lb)) {
        if (la != lb || memcmp(ua, ub, la) != 0)
            return 0; /* different units: no conversion, no answer */
        *cmp = (qa > qb) - (qa < qb);
        return 1;
    }
    if (fp_prim(x, &a) < 0 || fp_prim(y, &b) < 0)
        return 0;
    if (is_num(a.kind) && is_num(b.kind)) {
        *cmp = num_cmp(&a, &b);
        return 1;
    }
    dt da, db;
    if (as_dates(&a, &b, 1, &da, &db))
        return dt_compare(&da, &db, cmp);
    if ((a.kind == FPV_STR || is_datekind(a.kind)) && (b.kind == FPV_STR || is_datekind(b.kind))) {
        *cmp = str_cmp(&a, &b);
        return 1;
    }
    if (a.kind == FPV_QTY && b.kind == FPV_QTY && a.n == b.n && memcmp(a.s, b.s, a.n) == 0) {
        *cmp = (a.d > b.d) - (a.d < b.d);
        return 1;
    }
    return fp_fail(c, FG_EINVALID, "cannot compare a %s with a %s", fp_item_type(x),
                   fp_item_type(y));
}

static int fmt_decimal(fp_ctx *c, double d, const char **s, size_t *n)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%.15g", d);
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    char *r = fp_strndup(c, buf, strlen(buf));
    if (!r)
        return 0;
    *s = r;
    *n = strlen(r);
    return 1;
}

int fp_to_string(fp_ctx *c, const fp_item *it, const char **s, size_t *n)
{
    fp_item v;
    char buf[96];
    if (fp_prim(it, &v) < 0)
        return 0;
    switch (v.kind) {
    case FPV_STR:
    case FPV_DATE:
    case FPV_DATETIME:
    case FPV_TIME:
        *s = v.s;
        *n = v.n;
        return 1;
    case FPV_BOOL:
        *s = v.i ? "true" : "false";
        *n = strlen(*s);
        return 1;
    case FPV_INT:
        snprintf(buf, sizeof(buf), "%lld", v.i);
        break;
    case FPV_DEC:
        return fmt_decimal(c, v.d, s, n);
    case FPV_QTY:
        snprintf(buf, sizeof(buf), "%.15g '%.*s'", v.d, (int)(v.n > 40 ? 40 : v.n), v.s);
        break;
    default:
        return 0;
    }
    char *r = fp_strndup(c, buf, strlen(buf));
    if (!r)
        return 0;
    *s = r;
    *n = strlen(r);
    return 1;
}
