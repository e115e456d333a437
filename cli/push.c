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

#include "cli.h"
#include "fhir/fg_limits.h"
#include "fhir/fg_rest.h"
#include "generators/fg_push.h"

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
        "speak R4 (4.0.x) and accept transactions. Bundles answered 408, 429, 5xx or\n"
        "lost in transport are retried with backoff (honouring Retry-After); any other\n"
        "error fails that bundle and the run goes on. Each acknowledged bundle is\n"
        "recorded in a journal, so --resume after an interruption pushes only the rest.\n"
        "\n"
        "Options:\n"
        "  -s, --server URL            FHIR base URL (https://host/fhir)\n"
        "  -j, --concurrency N         bundles in flight (default 4, at most %d)\n"
        "      --cacert FILE           trust the CA certificates in FILE (default: system store)\n"
        "      --cert FILE             client certificate (PEM) for mutual TLS\n"
        "      --key FILE              the client certificate's private key (PEM)\n"
        "      --bearer-token-file F   send the access token in F (default: the\n"
        "                              FHIR_BEARER_TOKEN environment variable, if set)\n"
        "      --journal FILE          journal of acknowledged bundles (default: beside the\n"
        "                              first input, <dir>/.fhirgen-push.journal)\n"
        "      --no-journal            keep no journal\n"
        "      --resume                skip the bundles the journal already holds\n"
        "      --timeout SECONDS       per request (default 300)\n"
        "      --max-attempts N        tries per bundle (default %d)\n"
        "      --summary-json FILE     write the summary as JSON to FILE\n"
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
        FG_MAX_PUSH_CONCURRENCY, FG_MAX_PUSH_ATTEMPTS);
}

enum {
    OPT_CACERT = 256, OPT_CERT, OPT_KEY, OPT_TOKEN_FILE, OPT_JOURNAL, OPT_NO_JOURNAL,
    OPT_RESUME, OPT_TIMEOUT, OPT_ATTEMPTS, OPT_SUMMARY, OPT_INSECURE,
};

static const struct option options[] = {
    {"server", required_argument, NULL, 's'},
    {"concurrency", required_argument, NULL, 'j'},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"bearer-token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"journal", required_argument, NULL, OPT_JOURNAL},
    {"no-journal", no_argument, NULL, OPT_NO_JOURNAL},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-attempts", required_argument, NULL, OPT_ATTEMPTS},
    {"summary-json", required_argument, NULL, OPT_SUMMARY},
    {"insecure", no_argument, NULL, OPT_INSECURE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct ui {
    int tty, quiet;
    int progress_shown;
    uint64_t failures_shown;
} ui;

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
        if (!u->tty)
            fprintf(stderr, "fhirgen push: %s: landed (HTTP %ld, %zu entries)\n", r->path,
                    r->http_status, r->response ? r->response->n_entries : (size_t)0);
        return;
    }
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

static int write_summary(const char *path, const char *server, const fg_push_stats *s, int rc)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    char srv[2048];
    snprintf(srv, sizeof(srv), "%s", server);
    fg_rest_redact(srv, sizeof(srv), NULL);
    /* the URL is written as a JSON string: escape what JSON needs */
    fputs("{\"server\": \"", f);
    for (const char *p = srv; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        if ((unsigned char)*p >= 0x20)
            fputc(*p, f);
    }
    fprintf(f,
            "\", \"complete\": %s, \"bundles_seen\": %llu, \"bundles_landed\": %llu, "
            "\"bundles_skipped\": %llu, \"bundles_failed\": %llu, \"resources\": %llu, "
            "\"retries\": %llu, \"seconds\": %.3f}\n",
            rc == FG_OK && s->bundles_failed == 0 ? "true" : "false",
            (unsigned long long)s->bundles_seen, (unsigned long long)s->bundles_landed,
            (unsigned long long)s->bundles_skipped, (unsigned long long)s->bundles_failed,
            (unsigned long long)s->resources, (unsigned long long)s->retries, s->elapsed);
    return fclose(f);
}

int cmd_push(int argc, char **argv)
{
    fg_push_options po = {0};
    po.concurrency = 4;
    const char *token_file = NULL, *journal_path = NULL, *summary = NULL;
    int no_journal = 0, resume = 0, timeout_s = 0;
    ui u = {isatty(2), 0, 0, 0};
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
        case OPT_TOKEN_FILE: token_file = optarg; break;
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
        case 'q': u.quiet = 1; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Run 'fhirgen push --help' for the options.\n");
            return EXIT_USAGE;
        }
    }
    if (!po.server)
        return cli_usage_error(CMD, "--server URL is required");
    if (optind >= argc)
        return cli_usage_error(CMD, "name the bundles to push (files, folders, or - for stdin)");
    if ((po.cert == NULL) != (po.key == NULL))
        return cli_usage_error(CMD, "--cert and --key go together");
    if (no_journal && resume)
        return cli_usage_error(CMD, "--resume needs a journal");
    if (po.insecure)
        fprintf(stderr,
                "fhirgen push: WARNING: --insecure: the server's TLS certificate is NOT verified;\n"
                "fhirgen push: WARNING: anyone on the path can read and change what is pushed.\n");
    if (strncmp(po.server, "http://", 7) == 0)
        fprintf(stderr, "fhirgen push: WARNING: %s is plain http: bundles and credentials travel "
                        "unencrypted\n", "the server URL");
    po.timeout_ms = timeout_s * 1000L;

    if (token_file) {
        if (fg_token_file_new(token_file, &auth, &err) != FG_OK) {
            cli_report(CMD, &err);
            goto cleanup;
        }
    } else if (getenv("FHIR_BEARER_TOKEN") && *getenv("FHIR_BEARER_TOKEN")) {
        if (fg_token_static_new(getenv("FHIR_BEARER_TOKEN"), &auth, &err) != FG_OK) {
            snprintf(err.where, sizeof(err.where), "FHIR_BEARER_TOKEN");
            cli_report(CMD, &err);
            goto cleanup;
        }
    }
    po.auth = auth;

    char jpath[4200];
    if (!no_journal) {
        if (journal_path)
            snprintf(jpath, sizeof(jpath), "%s", journal_path);
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
    fprintf(stderr,
            "fhirgen push: %llu landed (%llu resources), %llu failed, %llu skipped (journal), "
            "%llu retries, %.1f s%s\n",
            (unsigned long long)st.bundles_landed, (unsigned long long)st.resources,
            (unsigned long long)st.bundles_failed, (unsigned long long)st.bundles_skipped,
            (unsigned long long)st.retries, st.elapsed,
            journal ? "" : " (no journal)");
    if (summary && write_summary(summary, po.server, &st, prc) != 0)
        fprintf(stderr, "fhirgen push: %s: cannot write the summary: %s\n", summary,
                strerror(errno));
    if (prc == FG_ECANCELED)
        rc = EXIT_INTERRUPTED;
    else
        rc = prc == FG_OK && st.bundles_failed == 0 ? EXIT_OK : EXIT_FAILED;
    curl_global_cleanup();
cleanup:
    fg_journal_close(journal);
    fg_token_provider_free(auth);
    return rc;
}
