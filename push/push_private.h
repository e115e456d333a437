/*
 * push_private.h: the bookkeeping of `fhirgen push --verify`, shared by
 * push.c (which runs the searches in its curl multi loop) and
 * push_verify.c (which decides what to search for and judges the answers).
 */
#ifndef FG_PUSH_PRIVATE_H
#define FG_PUSH_PRIVATE_H

#include <stddef.h>

#include "fhir/base/fg_error.h"
#include "fhir/rest/fg_rest.h"

typedef struct push_verify push_verify;

/* A new, empty set of checks, or NULL when out of memory. */
push_verify *push_verify_new(void);

/* Free the checks; accepts NULL. */
void push_verify_free(push_verify *v);

/* Record what the bundle data[0..len) read from path defines: for its
 * Patient, one count search per resource type it PUTs (the Patient's server
 * id taken from resp, the transaction-response, or from the bundle's own
 * PUT url when resp is NULL: a bundle skipped through the journal), and one
 * search per conditional create not seen before. FG_OK, or FG_EINVALID with
 * err saying why the bundle cannot be checked. */
int push_verify_add(push_verify *v, const char *path, const char *data, size_t len,
                    const fg_rest_tx_response *resp, fg_error *err);

/* Number of searches recorded. */
size_t push_verify_count(const push_verify *v);

/* Search i as a URL relative to the server base ("Observation?patient=...
 * &_summary=count"), and the bundle it checks (*path). Borrowed. */
const char *push_verify_query(const push_verify *v, size_t i, const char **path);

/* Judge the answer to search i: 0 when the server's total is what the
 * bundle defines, else -1 with msg saying what differs. */
int push_verify_judge(const push_verify *v, size_t i, const char *body, size_t len, char *msg,
                      size_t size);

#endif
