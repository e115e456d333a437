/* SPDX-License-Identifier: Apache-2.0 */
/* fhirgen: synthetic patient records as FHIR R4. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "fhir/base/fg_data.h"

static void usage(FILE *f)
{
    fprintf(f,
            "fhirgen %s: synthetic patient records as FHIR R4 (US Core 6.1.0)\n"
            "\n"
            "Usage: fhirgen <command> [options]\n"
            "\n"
            "Commands:\n"
            "  generate   make a cohort of synthetic patients (bundles, NDJSON or histories)\n"
            "  map        turn patient history documents into FHIR transaction Bundles\n"
            "  push       load transaction Bundles into a FHIR R4 server over TLS\n"
            "  validate   check FHIR R4 JSON against the base spec and package profiles\n"
            "\n"
            "Run 'fhirgen <command> --help' for a command's options.\n"
            "\n"
            "Every record is synthetic and marked so (meta.security HTEST); identifiers\n"
            "cannot collide with real ones (SSNs in the never-issued 999 area).\n"
            "\n"
            "Environment:\n"
            "  FHIRGEN_DATA_DIR    data folder to use instead of the installed one\n"
            "                      (now: %s)\n"
            "  SOURCE_DATE_EPOCH   the cohort's \"today\" when --end-date is not given\n"
            "  FHIRGEN_PACKAGES    the FHIR package cache (default ~/.fhir/packages)\n"
            "  OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL\n"
            "                      keys and endpoints of generate --llm\n",
            FG_VERSION, fg_data_dir());
}

int main(int argc, char **argv)
{
    /* Buffers above 256 KB come from mmap and go back to the system when
     * freed. glibc otherwise raises this threshold as large buffers are
     * freed, and a long run's memory creeps up with fragmentation. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    cli_settings_from_env();
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("fhirgen %s\n", FG_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc - 1, argv + 1);
    if (strcmp(cmd, "map") == 0)
        return cmd_map(argc - 1, argv + 1);
    if (strcmp(cmd, "push") == 0)
        return cmd_push(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    fprintf(stderr, "fhirgen: unknown command '%s'\nRun 'fhirgen --help' for the commands.\n", cmd);
    return EXIT_USAGE;
}
