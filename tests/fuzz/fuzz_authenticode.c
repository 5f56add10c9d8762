/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness for the PE/COFF reader behind the Authenticode hash. */
#include <stdint.h>
#include <stdlib.h>

#include "authenticode.h"
#include "tpmalg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t d[32];
    pe_section s[AUTHENTICODE_MAX_SECTIONS];
    (void)authenticode_digest(data, size, TPMALG_SHA256, d, sizeof d, NULL);
    int n = pe_sections(data, size, s, AUTHENTICODE_MAX_SECTIONS, NULL);
    for (int i = 0; i < n; i++)
        if (s[i].raw_size && (s[i].raw_offset > size || s[i].raw_size > size - s[i].raw_offset))
            abort(); /* pe_sections promised these are inside the buffer */
    return 0;
}
