/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TPM2B_PUBLIC / TPMT_PUBLIC / PEM parsing, name and EVP conversion, AK check. */
#include <stdint.h>

#include "tpmpub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tpmpub *pub = NULL;
    bg_err err = {0};
    char reason[128];

    if (tpmpub_parse(data, size, &pub, &err) == 0) {
        (void)tpmpub_check_ak(pub, reason, sizeof(reason));
        tpmpub_free(pub);
    }
    return 0;
}
