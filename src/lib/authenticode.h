/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Authenticode image hash of a PE/COFF file ("Windows Authenticode Portable
 * Executable Signature Format", section "Calculating the PE Image Hash"): the
 * digest UEFI firmware extends into PCR 4 for EV_EFI_BOOT_SERVICES_APPLICATION
 * (TCG PC Client PFP 10.4.4 / 3.3.4.4). The file is untrusted input: every
 * header field is bounds-checked through cursor.h. */

#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"

#define AUTHENTICODE_MAX_SIZE     (512u << 20)
#define AUTHENTICODE_MAX_SECTIONS 96u /* PE/COFF caps NumberOfSections at 96 */

/* Hashes buf with md_alg (TPMALG_*) into ret (size of the digest). -EBADMSG
 * with the offset for a malformed image. */
int authenticode_digest(const uint8_t *buf, size_t size, uint16_t md_alg, uint8_t *ret,
                        size_t ret_size, bg_err *err);

/* One section of a PE image, for systemd-stub's PCR 11 measurements. */
typedef struct pe_section {
    char name[9]; /* NUL-terminated, at most 8 chars */
    uint32_t virtual_size;
    uint32_t raw_offset;
    uint32_t raw_size;
} pe_section;

/* Lists the sections (data stays in buf; check raw_offset/raw_size against size
 * before reading: this function already did). Returns the count. */
int pe_sections(const uint8_t *buf, size_t size, pe_section *ret, size_t max, bg_err *err);
