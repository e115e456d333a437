/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t cli_cancel = 0;

static void on_signal(int sig)
{
    (void)sig;
    cli_cancel = 1;
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_report(const char *cmd, const fg_error *e)
{
    fg_error copy = *e, *err = &copy;
    cli_error_flags(err);
    if (err->where[0] && err->line > 0)
        fprintf(stderr, "fhirgen %s: %s:%d: %s\n", cmd, err->where, err->line, err->text);
    else if (err->where[0])
        fprintf(stderr, "fhirgen %s: %s: %s\n", cmd, err->where, err->text);
    else
        fprintf(stderr, "fhirgen %s: %s\n", cmd, err->text[0] ? err->text : fg_strerror(err->code));
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fhirgen %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'fhirgen %s --help' for the options.\n", cmd);
    return EXIT_USAGE;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_int(const char *s, int min, int max, int *out)
{
    uint64_t v;
    if (min < 0 || cli_parse_u64(s, (uint64_t)min, (uint64_t)max, &v))
        return -1;
    *out = (int)v;
    return 0;
}

int cli_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
