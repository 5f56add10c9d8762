/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Private to the eventlog module: a bounded text builder that always
 * NUL-terminates and escapes what is not printable, and the UEFI device path
 * renderer used by the event descriptions. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"

typedef struct textbuf {
    char *buf;
    size_t size;
    size_t len; /* bytes written, excluding the NUL; stops growing when full */
} textbuf;

textbuf textbuf_init(char *buf, size_t size);
void textbuf_printf(textbuf *t, const char *fmt, ...) _printf_(2, 3);
/* ASCII bytes as they are, others as \xNN; trailing NULs dropped. */
void textbuf_ascii(textbuf *t, const uint8_t *s, size_t n);
/* UTF-16LE code units (n bytes, odd byte ignored) up to the first NUL; non-ASCII
 * as \uNNNN. Returns the number of bytes consumed including the NUL. */
size_t textbuf_utf16(textbuf *t, const uint8_t *s, size_t n);
void textbuf_hex(textbuf *t, const uint8_t *s, size_t n, size_t max);
/* EFI_GUID: the first three fields are little-endian (UEFI 2.10 Appendix A). */
void textbuf_guid(textbuf *t, const uint8_t g[16]);

/* Printable ASCII with optional trailing NULs. */
bool text_is_ascii(const uint8_t *s, size_t n);
/* Looks like UTF-16LE text: even length, ASCII code units, NUL-terminated or not. */
bool text_is_utf16(const uint8_t *s, size_t n);

/* UEFI 2.10 10.6: EFI_DEVICE_PATH_PROTOCOL as text ("PciRoot(0x0)/Pci(0x1,0x1)/
 * Sata(0x0,0xFFFF,0x0)/HD(1,GPT,<guid>,0x800,0x100000)/File(\EFI\BOOT\BOOTX64.EFI)");
 * nodes this code does not know print as Path(type,subtype,hex). */
void eventlog_devpath_text(textbuf *t, const uint8_t *p, size_t n);

/* Appends the meaning of a Secure Boot variable's value (eventlog_sb.c):
 * SecureBoot enabled/disabled, the entries of PK/KEK/db/dbx/MOK lists, the
 * certificate of an EV_EFI_VARIABLE_AUTHORITY, SbatLevel. Nothing for other
 * variables. name16 is the UTF-16LE name of `chars` code units. */
void eventlog_describe_sb_value(textbuf *t, bool authority, const uint8_t *name16, size_t chars,
                                const uint8_t *v, size_t n);
