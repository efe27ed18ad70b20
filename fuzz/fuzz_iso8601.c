/* fuzz_iso8601.c - libFuzzer over the C ISO-8601 parser alone: any bytes,
 * no read past them (ASan), and whatever it accepts comes back the same
 * when printed in UTC and read again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"

/* Civil date of days since 1970-01-01 (proleptic Gregorian). */
static void civil(long long z, long long *y, int *m, int *d)
{
    long long era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long long ms, again, days, rest;
    long long y;
    int mo, d;
    char text[64];
    int n;
    if (me_parse_iso8601((const char *)data, size, &ms) != 0)
        return 0;
    /* four-digit years and offsets under a day bound every result */
    if (ms < -62167305600000LL || ms > 253402387199999LL)
        abort();
    days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    rest = ms - days * 86400000;
    civil(days, &y, &mo, &d);
    if (y < 0 || y > 9999)
        return 0; /* an offset moved it out of printable years */
    n = snprintf(text, sizeof text, "%04lld-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ", y, mo, d,
                 rest / 3600000, rest / 60000 % 60, rest / 1000 % 60, rest % 1000);
    if (me_parse_iso8601(text, (size_t)n, &again) != 0 || again != ms) {
        fprintf(stderr, "read back %s as %lld, not %lld\n", text, again, ms);
        abort();
    }
    return 0;
}
