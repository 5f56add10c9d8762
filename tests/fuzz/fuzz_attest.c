/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TPMS_ATTEST and TPMT_SIGNATURE parsing, and the quote checks that follow
 * a parse. Input: u16 LE attest length, attest bytes, signature bytes. */
#include <stdint.h>
#include <string.h>

#include "quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    TPMS_ATTEST attest;
    TPMT_SIGNATURE sig;
    quote_selection sel;
    bg_err err = {0};
    size_t n;

    if (size < 2)
        return 0;
    n = (size_t)(data[0] | data[1] << 8);
    if (n > size - 2)
        n = size - 2;
    if (quote_parse_attest(data + 2, n, &attest, &err) == 0 &&
        attest.type == TPM2_ST_ATTEST_QUOTE &&
        quote_selection_from_tpml(&attest.attested.quote.pcrSelect, &sel, &err) == 0) {
        char buf[256];
        quote_selection_format(&sel, buf, sizeof(buf));
    }
    (void)quote_parse_signature(data + 2 + n, size - 2 - n, &sig, &err);
    /* the whole input as one PCR file, too */
    {
        pcr_bank banks[QUOTE_MAX_BANKS];
        size_t nb;
        (void)quote_parse_tpm2_tools_pcrs(data, size, banks, QUOTE_MAX_BANKS, &nb, &sel, &err);
        if (quote_selection_parse("sha256:0-11+sha1:0,7", &sel, &err) == 0)
            (void)quote_parse_pcr_values(data, size, &sel, banks, QUOTE_MAX_BANKS, &nb, &err);
    }
    return 0;
}
