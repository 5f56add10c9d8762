/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eventlog_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

textbuf textbuf_init(char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    return (textbuf){.buf = buf, .size = size, .len = 0};
}

void textbuf_printf(textbuf *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (t->size == 0 || t->len >= t->size - 1)
        return;
    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    t->len = (size_t)n < t->size - t->len ? t->len + (size_t)n : t->size - 1;
}

static void textbuf_char(textbuf *t, uint32_t ch)
{
    /* A backslash stays as it is: UEFI paths are full of them. */
    if (ch >= 0x20 && ch < 0x7f)
        textbuf_printf(t, "%c", (char)ch);
    else if (ch < 0x100)
        textbuf_printf(t, "\\x%02x", ch);
    else
        textbuf_printf(t, "\\u%04x", ch);
}

void textbuf_ascii(textbuf *t, const uint8_t *s, size_t n)
{
    while (n > 0 && s[n - 1] == 0)
        n--;
    for (size_t i = 0; i < n; i++)
        textbuf_char(t, s[i]);
}

size_t textbuf_utf16(textbuf *t, const uint8_t *s, size_t n)
{
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        uint32_t ch = (uint32_t)s[i] | (uint32_t)s[i + 1] << 8;
        if (ch == 0)
            return i + 2;
        textbuf_char(t, ch);
    }
    return n;
}

void textbuf_hex(textbuf *t, const uint8_t *s, size_t n, size_t max)
{
    for (size_t i = 0; i < n && i < max; i++)
        textbuf_printf(t, "%02x", s[i]);
    if (n > max)
        textbuf_printf(t, "...");
}

void textbuf_guid(textbuf *t, const uint8_t g[16])
{
    textbuf_printf(t, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", g[3],
                   g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
                   g[14], g[15]);
}

bool text_is_ascii(const uint8_t *s, size_t n)
{
    while (n > 0 && s[n - 1] == 0)
        n--;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s[i] < 0x20 || s[i] >= 0x7f) && s[i] != '\n' && s[i] != '\t')
            return false;
    return true;
}

bool text_is_utf16(const uint8_t *s, size_t n)
{
    if (n < 2 || n % 2)
        return false;
    while (n >= 2 && s[n - 1] == 0 && s[n - 2] == 0)
        n -= 2;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i += 2)
        if (s[i + 1] != 0 || s[i] < 0x20 || s[i] >= 0x7f)
            return false;
    return true;
}
