/* SPDX-License-Identifier: Apache-2.0 */
/* fhirgen push: load transaction Bundles into a FHIR server. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "fhir/base/fg_data.h"
#include "fhir/rest/fg_rest.h"
#include "push/fg_push.h"

#define CMD "push"
#define MAX_SHOWN_FAILURES 50

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: fhirgen push --server URL [options] [FILE|DIR|-]...\n"
        "\n"
        "Push FHIR transaction Bundles to a FHIR R4 server: files, folders (every\n"
        "*.json inside, recursively) and - (standard input, one Bundle per line, as\n"
        "'fhirgen map' writes). The server's CapabilityStatement is read first: it must\n"
        "speak R4 (4.0.x) and declare transactions (or batches, for --mode batch).\n"
        "Requests answered 408, 409, 429, 5xx or lost in transport are retried with backoff\n"
        "(honouring Retry-After); any other error fails that bundle (its patient) and the\n"
        "run goes on. Each acknowledged bundle, or chunk of one, is recorded in a journal,\n"
        "so --resume after an interruption pushes only the rest, mid-patient included.\n"
        "\n"
        "Modes (--mode):\n"
        "  auto         (default) whole transactions; when the server refuses one for its\n"
        "               size or isolation (HTTP 413, or a message naming a limit, as\n"
        "               Medplum's 50 updates per transaction), switch to split with chunks\n"
        "               that fit, and say so. With --max-entries, split from the start.\n"
        "               A server that declares batches but not transactions gets batches.\n"
        "  transaction  each bundle as one transaction, as written\n"
        "  split        each bundle as transactions of at most --max-entries entries:\n"
        "               conditional creates (shared Organization, Practitioner, Location)\n"
        "               first, resolved once per run, then the patient's resources, each\n"
        "               after what it references, references between chunks rewritten from\n"
        "               urn:uuid to Type/id (a plain create of a urn:uuid becomes an update\n"
        "               of that id, so a re-sent chunk never duplicates)\n"
        "  batch        the same chunks as batch Bundles; entries refused with 429/5xx are\n"
        "               sent again, other refusals fail the patient and are named\n"
        "\n"
        "Options:\n"
        "  -s, --server URL            FHIR base URL (https://host/fhir)\n"
        "  -j, --concurrency N         bundles in flight (default 4, at most %d)\n"
        "      --mode MODE             auto, transaction, split or batch (see above)\n"
        "      --max-entries N         entries per chunk in split and batch mode (default %d;\n"
        "                              with auto: a limit the server is known to have)\n"
        "      --cacert FILE           trust the CA certificates in FILE (default: system store)\n"
        "      --cert FILE             client certificate (PEM) for mutual TLS\n"
        "      --key FILE              the client certificate's private key (PEM)\n"
        "      --bearer-token-file F   send the access token in F (default: the\n"
        "                              FHIR_BEARER_TOKEN environment variable, if set)\n"
        "      --auth MODE             bearer (the default with a token), client-credentials,\n"
        "                              smart, mtls (needs --cert/--key) or none\n"
        "      --token-url URL         OAuth2 token endpoint (smart: discovered from\n"
        "                              <server>/.well-known/smart-configuration when not given)\n"
        "      --client-id ID          OAuth2 / SMART client id\n"
        "      --client-secret-file F  client-credentials secret (default: the\n"
        "                              FHIR_CLIENT_SECRET environment variable)\n"
        "      --scope SCOPE           scopes asked for (smart default: " FG_SMART_DEFAULT_SCOPE ")\n"
        "      --jwt-key FILE          smart: PEM private key, RSA or EC P-384 (--key also\n"
        "                              names it when no --cert is given)\n"
        "      --kid KID               smart: the key's id in the JWKS the server holds\n"
        "      --alg ALG               smart: RS384 or ES384 (default: from the key type)\n"
        "      --journal FILE          journal of acknowledged bundles (default: beside the\n"
        "                              first input, <dir>/.fhirgen-push.journal)\n"
        "      --no-journal            keep no journal\n"
        "      --resume                skip the bundles the journal already holds\n"
        "      --timeout SECONDS       per request (default 300)\n"
        "      --max-attempts N        tries per bundle (default %d)\n"
        "      --summary-json FILE     write the summary as JSON to FILE\n"
        "      --verify                after the push, count through the server's search what\n"
        "                              landed (per patient and resource type, and each shared\n"
        "                              resource once) and report any difference from the bundles\n"
        "      --insecure              do NOT verify the server's certificate (testing only;\n"
        "                              a warning is printed on every run)\n"
        "  -q, --quiet                 no progress line, no per-bundle success lines\n"
        "  -h, --help                  this help\n"
        "\n"
        "Examples:\n"
        "  fhirgen generate -n 20 -o out && fhirgen push --server https://fhir.example/r4 out\n"
        "  fhirgen push -s https://localhost:8443/fhir --cacert ca.pem --resume out/bundles\n"
        "\n"
        "Exit status: 0 every bundle landed, 1 something did not, 2 a bad command line.\n",
        FG_MAX_PUSH_CONCURRENCY, FG_PUSH_DEFAULT_MAX_ENTRIES, FG_MAX_PUSH_ATTEMPTS);
}

enum {
    OPT_CACERT = 256, OPT_CERT, OPT_KEY, OPT_TOKEN_FILE, OPT_JOURNAL, OPT_NO_JOURNAL,
    OPT_RESUME, OPT_TIMEOUT, OPT_ATTEMPTS, OPT_SUMMARY, OPT_INSECURE,
    OPT_AUTH, OPT_TOKEN_URL, OPT_CLIENT_ID, OPT_SECRET_FILE, OPT_SCOPE, OPT_JWT_KEY, OPT_KID,
    OPT_ALG, OPT_VERIFY, OPT_MODE, OPT_MAX_ENTRIES,
};

static const struct option options[] = {
    {"server", required_argument, NULL, 's'},
    {"concurrency", required_argument, NULL, 'j'},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"bearer-token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"token-url", required_argument, NULL, OPT_TOKEN_URL},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"client-secret-file", required_argument, NULL, OPT_SECRET_FILE},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"jwt-key", required_argument, NULL, OPT_JWT_KEY},
    {"kid", required_argument, NULL, OPT_KID},
    {"alg", required_argument, NULL, OPT_ALG},
    {"journal", required_argument, NULL, OPT_JOURNAL},
    {"no-journal", no_argument, NULL, OPT_NO_JOURNAL},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-attempts", required_argument, NULL, OPT_ATTEMPTS},
    {"summary-json", required_argument, NULL, OPT_SUMMARY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"mode", required_argument, NULL, OPT_MODE},
    {"max-entries", required_argument, NULL, OPT_MAX_ENTRIES},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct ui {
    int tty, quiet;
    int progress_shown;
    uint64_t failures_shown;
    uint64_t differences_shown;
    int (*next)(void *ctx, char *path, size_t size); /* streaming inputs, or NULL */
    void *next_ctx;
    char **failed; /* the bundles (patients) that failed, for the summary */
    size_t n_failed, cap_failed;
} ui;

#define MAX_LISTED_FAILURES 10000 /* failed bundles named in --summary-json */

static void remember_failure(ui *u, const char *path)
{
    if (u->n_failed >= MAX_LISTED_FAILURES)
        return;
    if (u->n_failed == u->cap_failed) {
        size_t cap = u->cap_failed ? 2 * u->cap_failed : 16;
        char **f = realloc(u->failed, cap * sizeof(*f));
        if (!f)
            return;
        u->failed = f;
        u->cap_failed = cap;
    }
    char *c = strdup(path);
    if (c)
        u->failed[u->n_failed++] = c;
}

/* A JSON string of s (control characters dropped). */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static int ui_next(void *ctx, char *path, size_t size)
{
    ui *u = ctx;
    return u->next(u->next_ctx, path, size);
}

static void clear_progress(ui *u)
{
    if (u->progress_shown) {
        fputs("\r\033[K", stderr);
        u->progress_shown = 0;
    }
}

static void on_result(void *ctx, const fg_push_result *r)
{
    ui *u = ctx;
    if (r->landed && u->quiet)
        return;
    clear_progress(u);
    if (r->landed) {
        if (!u->tty && r->chunks)
            fprintf(stderr, "fhirgen push: %s: landed (%zu entries in %zu chunks)\n", r->path,
                    r->entries, r->chunks);
        else if (!u->tty)
            fprintf(stderr, "fhirgen push: %s: landed (HTTP %ld, %zu entries)\n", r->path,
                    r->http_status, r->entries);
        return;
    }
    remember_failure(u, r->path);
    if (++u->failures_shown > MAX_SHOWN_FAILURES) {
        if (u->failures_shown == MAX_SHOWN_FAILURES + 1)
            fprintf(stderr, "fhirgen push: more failures follow; see the summary\n");
        return;
    }
    fprintf(stderr, "fhirgen push: %s: FAILED after %d attempt%s: %s\n", r->path, r->attempts,
            r->attempts == 1 ? "" : "s", r->message ? r->message : "?");
    for (size_t i = 0; r->response && i < r->response->n_entries; i++) {
        const fg_rest_entry *e = &r->response->entries[i];
        if (e->status >= 200 && e->status <= 299)
            continue;
        fprintf(stderr, "  entry[%zu]: %d%s%s\n", i, e->status, e->outcome ? " " : "",
                e->outcome ? e->outcome : "");
    }
}

static void on_notice(void *ctx, const char *message)
{
    ui *u = ctx;
    clear_progress(u);
    fprintf(stderr, "fhirgen push: %s\n", message);
}

static void on_difference(void *ctx, const char *path, const char *message)
{
    ui *u = ctx;
    clear_progress(u);
    if (++u->differences_shown > MAX_SHOWN_FAILURES) {
        if (u->differences_shown == MAX_SHOWN_FAILURES + 1)
            fprintf(stderr, "fhirgen push: verify: more differences follow; see the summary\n");
        return;
    }
    fprintf(stderr, "fhirgen push: verify: %s: %s\n", path, message);
}

static void on_progress(void *ctx, const fg_push_stats *s)
{
    ui *u = ctx;
    if (!u->tty || u->quiet)
        return;
    double el = s->elapsed > 0.001 ? s->elapsed : 0.001;
    fprintf(stderr,
            "\r\033[K%llu landed  %.1f bundles/s  %.0f resources/s  %u in flight  "
            "%llu retries  %llu failed  %llu skipped",
            (unsigned long long)s->bundles_landed, (double)s->bundles_landed / el,
            (double)s->resources / el, s->in_flight, (unsigned long long)s->retries,
            (unsigned long long)s->bundles_failed, (unsigned long long)s->bundles_skipped);
    u->progress_shown = 1;
}

/* <dir of the first input>/.fhirgen-push.journal; the current folder for stdin. */
static void default_journal(const char *first, char *out, size_t size)
{
    struct stat st;
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", first);
    const char *dir = ".";
    if (strcmp(first, "-") != 0)
        dir = stat(first, &st) == 0 && S_ISDIR(st.st_mode) ? first : dirname(copy);
    snprintf(out, size, "%s/.fhirgen-push.journal", dir);
}

static int write_summary(const char *path, const char *server, const fg_push_stats *s, int rc,
                         const ui *u)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    char srv[2048];
    snprintf(srv, sizeof(srv), "%s", server);
    fg_http_redact(srv, sizeof(srv), NULL);
    fputs("{\"server\": ", f);
    put_json_string(f, srv);
    fputs(", \"failed\": [", f);
    for (size_t i = 0; i < u->n_failed; i++) {
        fputs(i ? ", " : "", f);
        put_json_string(f, u->failed[i]);
    }
    fprintf(f,
            "], \"complete\": %s, \"bundles_seen\": %llu, \"bundles_landed\": %llu, "
            "\"bundles_skipped\": %llu, \"bundles_failed\": %llu, \"resources\": %llu, "
            "\"retries\": %llu, \"verify_queries\": %llu, \"verify_differences\": %llu, "
            "\"mode\": \"%s\", \"max_entries\": %d, \"chunks_landed\": %llu, "
            "\"chunks_skipped\": %llu, \"seconds\": %.3f}\n",
            rc == FG_OK && s->bundles_failed == 0 && s->verify_differences == 0 ? "true" : "false",
            (unsigned long long)s->bundles_seen, (unsigned long long)s->bundles_landed,
            (unsigned long long)s->bundles_skipped, (unsigned long long)s->bundles_failed,
            (unsigned long long)s->resources, (unsigned long long)s->retries,
            (unsigned long long)s->verify_queries, (unsigned long long)s->verify_differences,
            fg_push_mode_name(s->mode), s->max_entries, (unsigned long long)s->chunks_landed,
            (unsigned long long)s->chunks_skipped, s->elapsed);
    return fclose(f);
}

/* The lines that end a push: what landed, the chunks, the verification,
 * the bundles that failed. */
static void print_summary(const ui *u, const fg_push_options *po, const fg_push_stats *st,
                          int prc, int journal, int summary)
{
    fprintf(stderr,
            "fhirgen push: %llu landed (%llu resources), %llu failed, %llu skipped (journal), "
            "%llu retries, %.1f s%s\n",
            (unsigned long long)st->bundles_landed, (unsigned long long)st->resources,
            (unsigned long long)st->bundles_failed, (unsigned long long)st->bundles_skipped,
            (unsigned long long)st->retries, st->elapsed,
            journal ? "" : " (no journal)");
    if (st->mode == FG_PUSH_SPLIT || st->mode == FG_PUSH_BATCH)
        fprintf(stderr, "fhirgen push: %s mode, at most %d entries per chunk: %llu chunks "
                "landed, %llu skipped (journal)\n", fg_push_mode_name(st->mode), st->max_entries,
                (unsigned long long)st->chunks_landed, (unsigned long long)st->chunks_skipped);
    if (po->verify && prc == FG_OK)
        fprintf(stderr, "fhirgen push: verify: %llu searches, %llu difference%s\n",
                (unsigned long long)st->verify_queries, (unsigned long long)st->verify_differences,
                st->verify_differences == 1 ? "" : "s");
    if (u->n_failed) {
        fprintf(stderr, "fhirgen push: failed:");
        for (size_t i = 0; i < u->n_failed && i < 10; i++)
            fprintf(stderr, "%s %s", i ? "," : "", u->failed[i]);
        if (st->bundles_failed > 10)
            fprintf(stderr, " and %llu more%s", (unsigned long long)st->bundles_failed - 10,
                    summary ? " (all in the summary)" : "");
        fputc('\n', stderr);
    }
}

/* The --auth options as given. */
typedef struct auth_args {
    const char *mode, *token_file, *secret_file, *jwt_key, *scope;
    fg_oauth_options oa;
} auth_args;

/* Read a secret file (client secret or private key), surrounding white
 * space trimmed when trim is set. *out is new; wipe before freeing. */
static int read_secret(const char *path, size_t max, int trim, char **out, size_t *len,
                       fg_error *err)
{
    char *text = NULL;
    size_t n = 0;
    int rc = fg_read_file(path, max, &text, &n, err);
    if (rc != FG_OK)
        return rc;
    char *s = text, *e = text + n;
    while (trim && s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
        s++;
    while (trim && e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    memmove(text, s, (size_t)(e - s));
    memset(text + (e - s), 0, n - (size_t)(e - s));
    text[e - s] = 0;
    *out = text;
    *len = (size_t)(e - s);
    return FG_OK;
}

/* The token provider the auth options ask for (*out NULL for none, mtls).
 * Returns EXIT_OK, or an exit status after telling the user why. */
static int make_auth(auth_args *a, fg_push_options *po, fg_token_provider **out)
{
    fg_error err;
    fg_error_clear(&err);
    char *secret = NULL, *key = NULL;
    size_t slen = 0, klen = 0;
    int rc = EXIT_FAILED;
    const char *bearer_env = getenv("FHIR_BEARER_TOKEN");
    const char *mode = a->mode ? a->mode
                               : a->token_file || (bearer_env && *bearer_env) ? "bearer" : "none";
    *out = NULL;
    if (strcmp(mode, "smart") == 0 && !a->jwt_key && po->key && !po->cert) {
        a->jwt_key = po->key; /* --key FILE without --cert: the SMART signing key */
        po->key = NULL;
    }
    if ((po->cert == NULL) != (po->key == NULL))
        return cli_usage_error(CMD, "--cert and --key go together");
    if (strcmp(mode, "none") == 0) {
        rc = EXIT_OK;
    } else if (strcmp(mode, "mtls") == 0) {
        if (!po->cert)
            return cli_usage_error(CMD, "--auth mtls needs --cert FILE and --key FILE");
        rc = EXIT_OK;
    } else if (strcmp(mode, "bearer") == 0) {
        if (a->token_file) {
            if (fg_token_file_new(a->token_file, out, &err) != FG_OK)
                goto fail;
        } else if (bearer_env && *bearer_env) {
            if (fg_token_static_new(bearer_env, out, &err) != FG_OK) {
                snprintf(err.where, sizeof(err.where), "FHIR_BEARER_TOKEN");
                goto fail;
            }
        } else {
            return cli_usage_error(CMD, "--auth bearer needs --bearer-token-file or "
                                        "FHIR_BEARER_TOKEN");
        }
        rc = EXIT_OK;
    } else if (strcmp(mode, "client-credentials") == 0) {
        const char *env = getenv("FHIR_CLIENT_SECRET");
        if (a->secret_file) {
            if (read_secret(a->secret_file, FG_MAX_TOKEN_BYTES, 1, &secret, &slen, &err) != FG_OK)
                goto fail;
            a->oa.client_secret = secret;
        } else if (env && *env) {
            a->oa.client_secret = env;
        } else {
            return cli_usage_error(CMD, "--auth client-credentials needs --client-secret-file "
                                        "or FHIR_CLIENT_SECRET");
        }
        if (fg_token_client_credentials_new(&a->oa, out, &err) != FG_OK)
            goto fail;
        rc = EXIT_OK;
    } else if (strcmp(mode, "smart") == 0) {
        if (!a->jwt_key)
            return cli_usage_error(CMD, "--auth smart needs --jwt-key FILE (or --key FILE)");
        if (read_secret(a->jwt_key, FG_MAX_SMART_KEY_BYTES, 0, &key, &klen, &err) != FG_OK)
            goto fail;
        a->oa.key_pem = key;
        a->oa.key_len = klen;
        a->oa.server = po->server;
        if (fg_token_smart_new(&a->oa, out, &err) != FG_OK) {
            if (strcmp(err.where, "key") == 0)
                snprintf(err.where, sizeof(err.where), "%.200s", a->jwt_key);
            goto fail;
        }
        rc = EXIT_OK;
    } else {
        return cli_usage_error(CMD, "--auth: '%s' is not bearer, client-credentials, smart, mtls "
                                    "or none", mode);
    }
    goto cleanup;
fail:
    cli_report(CMD, &err);
    rc = err.code == FG_EUSAGE ? EXIT_USAGE : EXIT_FAILED;
cleanup:
    if (secret)
        memset(secret, 0, slen);
    free(secret);
    if (key)
        memset(key, 0, klen);
    free(key);
    return rc;
}

/* cmd_push, or with next set the push half of 'generate --push' (inputs
 * handed over as they are written, the journal in journal_dir). */
static int push_main(int argc, char **argv, int (*next)(void *, char *, size_t), void *next_ctx,
                     const char *journal_dir)
{
    fg_push_options po = {0};
    po.concurrency = 4;
    auth_args aa;
    memset(&aa, 0, sizeof(aa));
    const char *journal_path = NULL, *summary = NULL;
    int no_journal = 0, resume = 0, timeout_s = 0;
    ui u = {.tty = isatty(2), .next = next, .next_ctx = next_ctx};
    fg_token_provider *auth = NULL;
    fg_journal *journal = NULL;
    fg_error err;
    fg_error_clear(&err);
    int rc = EXIT_FAILED;

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "s:j:qh", options, NULL)) != -1) {
        switch (c) {
        case 's': po.server = optarg; break;
        case 'j':
            if (cli_parse_int(optarg, 1, FG_MAX_PUSH_CONCURRENCY, &po.concurrency))
                return cli_usage_error(CMD, "--concurrency: '%s' is not 1..%d", optarg,
                                       FG_MAX_PUSH_CONCURRENCY);
            break;
        case OPT_CACERT: po.cacert = optarg; break;
        case OPT_CERT: po.cert = optarg; break;
        case OPT_KEY: po.key = optarg; break;
        case OPT_TOKEN_FILE: aa.token_file = optarg; break;
        case OPT_AUTH: aa.mode = optarg; break;
        case OPT_TOKEN_URL: aa.oa.token_url = optarg; break;
        case OPT_CLIENT_ID: aa.oa.client_id = optarg; break;
        case OPT_SECRET_FILE: aa.secret_file = optarg; break;
        case OPT_SCOPE: aa.oa.scope = optarg; break;
        case OPT_JWT_KEY: aa.jwt_key = optarg; break;
        case OPT_KID: aa.oa.kid = optarg; break;
        case OPT_ALG: aa.oa.alg = optarg; break;
        case OPT_JOURNAL: journal_path = optarg; break;
        case OPT_NO_JOURNAL: no_journal = 1; break;
        case OPT_RESUME: resume = 1; break;
        case OPT_TIMEOUT:
            if (cli_parse_int(optarg, 1, 86400, &timeout_s))
                return cli_usage_error(CMD, "--timeout: '%s' is not 1..86400 seconds", optarg);
            break;
        case OPT_ATTEMPTS:
            if (cli_parse_int(optarg, 1, FG_MAX_PUSH_ATTEMPTS, &po.max_attempts))
                return cli_usage_error(CMD, "--max-attempts: '%s' is not 1..%d", optarg,
                                       FG_MAX_PUSH_ATTEMPTS);
            break;
        case OPT_SUMMARY: summary = optarg; break;
        case OPT_INSECURE: po.insecure = 1; break;
        case OPT_VERIFY: po.verify = 1; break;
        case OPT_MODE:
            if (fg_push_mode_parse(optarg, &po.mode) != FG_OK)
                return cli_usage_error(CMD, "--mode: '%s' is not auto, transaction, split or "
                                       "batch", optarg);
            break;
        case OPT_MAX_ENTRIES:
            if (cli_parse_int(optarg, 1, FG_MAX_PUSH_ENTRIES, &po.max_entries))
                return cli_usage_error(CMD, "--max-entries: '%s' is not 1..%d", optarg,
                                       FG_MAX_PUSH_ENTRIES);
            break;
        case 'q': u.quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Run 'fhirgen push --help' for the options.\n");
            return EXIT_USAGE;
        }
    }
    if (!po.server)
        return cli_usage_error(CMD, "--server URL is required");
    if (optind >= argc && !next)
        return cli_usage_error(CMD, "name the bundles to push (files, folders, or - for stdin)");
    if (optind < argc && next)
        return cli_usage_error(CMD, "--push takes no input names: it pushes what is generated");
    if (no_journal && resume)
        return cli_usage_error(CMD, "--resume needs a journal");
    if (po.mode == FG_PUSH_TRANSACTION && po.max_entries)
        return cli_usage_error(CMD, "--max-entries cuts bundles into chunks: it goes with "
                               "--mode auto, split or batch, not transaction");
    if (po.insecure)
        fprintf(stderr,
                "fhirgen push: WARNING: --insecure: the server's TLS certificate is NOT verified;\n"
                "fhirgen push: WARNING: anyone on the path can read and change what is pushed.\n");
    if (strncmp(po.server, "http://", 7) == 0)
        fprintf(stderr, "fhirgen push: WARNING: %s is plain http: bundles and credentials travel "
                        "unencrypted\n", "the server URL");
    po.timeout_ms = timeout_s * 1000L;

    if ((rc = make_auth(&aa, &po, &auth)) != EXIT_OK)
        goto cleanup;
    rc = EXIT_FAILED;
    po.auth = auth;

    char jpath[4200];
    if (!no_journal) {
        if (journal_path)
            snprintf(jpath, sizeof(jpath), "%s", journal_path);
        else if (next)
            snprintf(jpath, sizeof(jpath), "%s/.fhirgen-push.journal", journal_dir);
        else
            default_journal(argv[optind], jpath, sizeof(jpath));
        if (fg_journal_open(jpath, resume, &journal, &err) != FG_OK) {
            cli_report(CMD, &err);
            goto cleanup;
        }
        po.journal = journal;
    }
    po.on_result = on_result;
    po.on_progress = on_progress;
    po.on_difference = on_difference;
    po.on_notice = on_notice;
    if (next)
        po.next_input = ui_next;
    po.ctx = &u;
    po.cancel = &cli_cancel;
    cli_catch_signals();

    curl_global_init(CURL_GLOBAL_DEFAULT);
    fg_push_stats st;
    int prc = fg_push_run(&po, (const char *const *)argv + optind, (size_t)(argc - optind), &st,
                          &err);
    clear_progress(&u);
    if (prc != FG_OK)
        cli_report(CMD, &err);
    print_summary(&u, &po, &st, prc, journal != NULL, summary != NULL);
    if (summary && write_summary(summary, po.server, &st, prc, &u) != 0)
        fprintf(stderr, "fhirgen push: %s: cannot write the summary: %s\n", summary,
                strerror(errno));
    if (prc == FG_ECANCELED)
        rc = EXIT_INTERRUPTED;
    else
        rc = prc == FG_OK && st.bundles_failed == 0 && st.verify_differences == 0 ? EXIT_OK
                                                                                  : EXIT_FAILED;
    curl_global_cleanup();
cleanup:
    for (size_t i = 0; i < u.n_failed; i++)
        free(u.failed[i]);
    free(u.failed);
    fg_journal_close(journal);
    fg_token_provider_free(auth);
    return rc;
}

int cmd_push(int argc, char **argv)
{
    return push_main(argc, argv, NULL, NULL, NULL);
}

int cli_push_stream(int argc, char **argv, const char *journal_dir,
                    int (*next)(void *ctx, char *path, size_t size), void *ctx)
{
    return push_main(argc, argv, next, ctx, journal_dir);
}
