/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness for the IMA binary log: parse (with template digest
 * checks) and replay into SHA-1 and SHA-256 banks. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ima.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t algs[] = {TPMALG_SHA1, TPMALG_SHA256};
    ima_log *log = NULL;
    bg_err err = {0};

    if (ima_parse(data, size, &log, &err) < 0)
        return 0;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        pcr_bank bank = {.alg = algs[i], .digest_size = tpmalg_by_id(algs[i])->size};
        (void)ima_replay(log, &bank, &err);
    }
    for (size_t i = 0; i < log->n_entries; i++)
        if (!log->entries[i].file_name || strlen(log->entries[i].file_name) > log->size)
            __builtin_trap();
    ima_log_free(log);
    return 0;
}
