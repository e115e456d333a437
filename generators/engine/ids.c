/* SPDX-License-Identifier: Apache-2.0 */
#include "generators/engine/fg_ids.h"

#include <string.h>

void fg_ssn_format(uint64_t v, char out[12])
{
    unsigned group = (unsigned)(v % 99) + 1;               /* 01..99 */
    unsigned serial = (unsigned)((v / 99) % 9999) + 1;     /* 0001..9999 */
    out[0] = out[1] = out[2] = '9';
    out[3] = '-';
    out[4] = (char)('0' + group / 10);
    out[5] = (char)('0' + group % 10);
    out[6] = '-';
    out[7] = (char)('0' + serial / 1000);
    out[8] = (char)('0' + serial / 100 % 10);
    out[9] = (char)('0' + serial / 10 % 10);
    out[10] = (char)('0' + serial % 10);
    out[11] = 0;
}

static int luhn_digit(const char *nine)
{
    /* The NPI check digit is the Luhn digit of "80840" + the first nine
     * digits; the prefix contributes a constant 24. */
    int sum = 24;
    for (int i = 0; i < 9; i++) {
        int d = nine[8 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return (10 - sum % 10) % 10;
}

void fg_npi_format(uint64_t v, char out[11])
{
    out[0] = (char)('1' + (int)(v % 2));
    v /= 2;
    for (int i = 1; i < 9; i++) {
        out[i] = (char)('0' + (int)(v % 10));
        v /= 10;
    }
    out[9] = (char)('0' + luhn_digit(out));
    out[10] = 0;
}

int fg_npi_valid(const char *npi)
{
    if (!npi || strlen(npi) != 10)
        return 0;
    for (int i = 0; i < 10; i++)
        if (npi[i] < '0' || npi[i] > '9')
            return 0;
    return luhn_digit(npi) == npi[9] - '0';
}
