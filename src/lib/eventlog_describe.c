/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eventlog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "eventlog_text.h"

static const struct {
    uint32_t type;
    const char *name;
} type_names[] = {
    {EV_PREBOOT_CERT, "EV_PREBOOT_CERT"},
    {EV_POST_CODE, "EV_POST_CODE"},
    {0x00000002, "EV_UNUSED"},
    {EV_NO_ACTION, "EV_NO_ACTION"},
    {EV_SEPARATOR, "EV_SEPARATOR"},
    {EV_ACTION, "EV_ACTION"},
    {EV_EVENT_TAG, "EV_EVENT_TAG"},
    {EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS"},
    {EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION"},
    {EV_CPU_MICROCODE, "EV_CPU_MICROCODE"},
    {EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS"},
    {EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES"},
    {EV_COMPACT_HASH, "EV_COMPACT_HASH"},
    {EV_IPL, "EV_IPL"},
    {EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA"},
    {EV_NONHOST_CODE, "EV_NONHOST_CODE"},
    {EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG"},
    {EV_NONHOST_INFO, "EV_NONHOST_INFO"},
    {EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS"},
    {EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE"},
    {EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG"},
    {EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT"},
    {EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION"},
    {EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER"},
    {EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER"},
    {EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT"},
    {EV_EFI_ACTION, "EV_EFI_ACTION"},
    {EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB"},
    {EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES"},
    {EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2"},
    {EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2"},
    {EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2"},
    {EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT"},
    {EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY"},
    {EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB"},
    {EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG"},
};

const char *eventlog_type_name(uint32_t type)
{
    for (size_t i = 0; i < ELEMENTSOF(type_names); i++)
        if (type_names[i].type == type)
            return type_names[i].name;
    return NULL;
}

int eventlog_type_from_name(const char *name, uint32_t *ret)
{
    char *end;
    unsigned long v;

    if (!name || !*name)
        return -EINVAL;
    for (size_t i = 0; i < ELEMENTSOF(type_names); i++)
        if (!strcmp(type_names[i].name, name)) {
            *ret = type_names[i].type;
            return 0;
        }
    errno = 0;
    v = strtoul(name, &end, 0);
    if (errno || *end || name[0] == '-' || v > UINT32_MAX)
        return -EINVAL;
    *ret = (uint32_t)v;
    return 0;
}

/* Known GUIDs of UEFI configuration tables, in their byte layout. */
static const struct {
    uint8_t guid[16];
    const char *name;
} table_guids[] = {
    {{0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11, 0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88,
      0x81},
     "ACPI 2.0"},
    {{0x31, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11, 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1,
      0x4d},
     "SMBIOS"},
    {{0x44, 0x15, 0xfd, 0xf2, 0x94, 0x97, 0x2c, 0x4a, 0x99, 0x2e, 0xe5, 0xbb, 0xcf, 0x20, 0xe3,
      0x94},
     "SMBIOS3"},
};

static void describe_guid_named(textbuf *t, const uint8_t *g)
{
    for (size_t i = 0; i < ELEMENTSOF(table_guids); i++)
        if (!memcmp(table_guids[i].guid, g, 16)) {
            textbuf_printf(t, "%s", table_guids[i].name);
            return;
        }
    textbuf_guid(t, g);
}

static void describe_fallback(textbuf *t, const uint8_t *d, size_t n)
{
    if (n == 0)
        textbuf_printf(t, "(no data)");
    else if (text_is_ascii(d, n))
        textbuf_ascii(t, d, n);
    else if (text_is_utf16(d, n))
        textbuf_utf16(t, d, n);
    else
        textbuf_hex(t, d, n, 32);
}

/* UEFI 2.10 3.1.3: EFI_LOAD_OPTION of a Boot#### variable: description and
 * the first device path. */
static void describe_load_option(textbuf *t, cursor *c)
{
    uint32_t attrs;
    uint16_t path_len;
    size_t used;
    const uint8_t *path;

    if (cursor_u32le(c, &attrs, "", NULL) < 0 || cursor_u16le(c, &path_len, "", NULL) < 0)
        return;
    textbuf_printf(t, ": \"");
    used = textbuf_utf16(t, c->buf + c->off, cursor_left(c));
    textbuf_printf(t, "\"");
    c->off += used;
    if (cursor_bytes(c, path_len, &path, "", NULL) < 0)
        return;
    textbuf_printf(t, " ");
    eventlog_devpath_text(t, path, path_len);
}

/* "Boot" and four hex digits, in UTF-16LE (UEFI 2.10 3.1.1). */
static bool is_boot_option_name(const uint8_t *name, size_t chars)
{
    if (chars != 8 || memcmp(name, "B\0o\0o\0t\0", 8))
        return false;
    for (size_t i = 4; i < 8; i++) {
        uint8_t lo = name[2 * i], hi = name[2 * i + 1];
        bool hex = (lo >= '0' && lo <= '9') || (lo >= 'A' && lo <= 'F') || (lo >= 'a' && lo <= 'f');
        if (hi || !hex)
            return false;
    }
    return true;
}

/* PFP 10.2.6: UEFI_VARIABLE_DATA. */
static void describe_variable(textbuf *t, const eventlog_event *ev)
{
    cursor c = cursor_init(ev->data, ev->data_size);
    const uint8_t *guid, *name, *value;
    uint64_t name_len, value_len;

    if (cursor_bytes(&c, 16, &guid, "", NULL) < 0 || cursor_u64le(&c, &name_len, "", NULL) < 0 ||
        cursor_u64le(&c, &value_len, "", NULL) < 0 || name_len > cursor_left(&c) / 2 ||
        cursor_bytes(&c, (size_t)name_len * 2, &name, "", NULL) < 0 ||
        value_len > cursor_left(&c)) {
        textbuf_printf(t, "malformed UEFI_VARIABLE_DATA: ");
        textbuf_hex(t, ev->data, ev->data_size, 32);
        return;
    }
    (void)cursor_bytes(&c, (size_t)value_len, &value, "", NULL);
    textbuf_guid(t, guid);
    textbuf_printf(t, " ");
    textbuf_utf16(t, name, (size_t)name_len * 2);
    /* Boot#### holds an EFI_LOAD_OPTION (not BootOrder, BootNext, ...). */
    if ((ev->type == EV_EFI_VARIABLE_BOOT || ev->type == EV_EFI_VARIABLE_BOOT2) &&
        is_boot_option_name(name, (size_t)name_len)) {
        cursor vc = cursor_init(value, (size_t)value_len);
        describe_load_option(t, &vc);
    } else if (ev->type == EV_EFI_VARIABLE_DRIVER_CONFIG || ev->type == EV_EFI_VARIABLE_AUTHORITY)
        eventlog_describe_sb_value(t, ev->type == EV_EFI_VARIABLE_AUTHORITY, name, (size_t)name_len,
                                   value, (size_t)value_len);
}

/* PFP 10.2.3: UEFI_IMAGE_LOAD_EVENT. */
static void describe_image(textbuf *t, const eventlog_event *ev)
{
    cursor c = cursor_init(ev->data, ev->data_size);
    uint64_t base, len, link, path_len;
    const uint8_t *path;

    if (cursor_u64le(&c, &base, "", NULL) < 0 || cursor_u64le(&c, &len, "", NULL) < 0 ||
        cursor_u64le(&c, &link, "", NULL) < 0 || cursor_u64le(&c, &path_len, "", NULL) < 0 ||
        path_len > cursor_left(&c)) {
        textbuf_printf(t, "malformed UEFI_IMAGE_LOAD_EVENT: ");
        textbuf_hex(t, ev->data, ev->data_size, 32);
        return;
    }
    (void)cursor_bytes(&c, (size_t)path_len, &path, "", NULL);
    if (path_len == 0)
        textbuf_printf(t, "image at 0x%llx, %llu bytes", (unsigned long long)base,
                       (unsigned long long)len);
    else
        eventlog_devpath_text(t, path, (size_t)path_len);
}

/* PFP 10.4.2: TCG_PCClientTaggedEvent. Linux's EFI stub tags the initrd
 * ("Linux initrd") and the command line ("LOADED_IMAGE::LoadOptions"). */
static void describe_tag(textbuf *t, const eventlog_event *ev)
{
    cursor c = cursor_init(ev->data, ev->data_size);
    uint32_t id, size;
    const uint8_t *d;

    if (cursor_u32le(&c, &id, "", NULL) < 0 || cursor_u32le(&c, &size, "", NULL) < 0 ||
        cursor_bytes(&c, size, &d, "", NULL) < 0) {
        describe_fallback(t, ev->data, ev->data_size);
        return;
    }
    if (text_is_ascii(d, size))
        textbuf_ascii(t, d, size);
    else {
        textbuf_printf(t, "tag 0x%08x: ", id);
        describe_fallback(t, d, size);
    }
}

/* PFP 10.2.5: UEFI_PLATFORM_FIRMWARE_BLOB(2). */
static void describe_blob(textbuf *t, const eventlog_event *ev, bool with_description)
{
    cursor c = cursor_init(ev->data, ev->data_size);
    uint64_t base, len;
    uint8_t dlen = 0;
    const uint8_t *desc = NULL;

    if ((with_description &&
         (cursor_u8(&c, &dlen, "", NULL) < 0 || cursor_bytes(&c, dlen, &desc, "", NULL) < 0)) ||
        cursor_u64le(&c, &base, "", NULL) < 0 || cursor_u64le(&c, &len, "", NULL) < 0) {
        describe_fallback(t, ev->data, ev->data_size);
        return;
    }
    if (desc) {
        textbuf_ascii(t, desc, dlen);
        textbuf_printf(t, " ");
    }
    textbuf_printf(t, "base 0x%llx length 0x%llx", (unsigned long long)base,
                   (unsigned long long)len);
}

/* PFP 10.2.4: UEFI_HANDOFF_TABLE_POINTERS(2). */
static void describe_handoff(textbuf *t, const eventlog_event *ev, bool with_description)
{
    cursor c = cursor_init(ev->data, ev->data_size);
    uint64_t n;
    uint8_t dlen = 0;
    const uint8_t *desc = NULL, *guid;

    if ((with_description &&
         (cursor_u8(&c, &dlen, "", NULL) < 0 || cursor_bytes(&c, dlen, &desc, "", NULL) < 0)) ||
        cursor_u64le(&c, &n, "", NULL) < 0) {
        describe_fallback(t, ev->data, ev->data_size);
        return;
    }
    if (desc) {
        textbuf_ascii(t, desc, dlen);
        textbuf_printf(t, ": ");
    }
    textbuf_printf(t, "%llu table%s", (unsigned long long)n, n == 1 ? "" : "s");
    for (uint64_t i = 0; i < n && i < 8; i++) {
        uint64_t addr;
        if (cursor_bytes(&c, 16, &guid, "", NULL) < 0 || cursor_u64le(&c, &addr, "", NULL) < 0) {
            textbuf_printf(t, " (truncated)");
            return;
        }
        textbuf_printf(t, "%s", i ? ", " : ": ");
        describe_guid_named(t, guid);
        textbuf_printf(t, " at 0x%llx", (unsigned long long)addr);
    }
}

/* PFP 10.2.7: UEFI_GPT_DATA: the GPT header (UEFI 2.10 5.3.2) and the entries. */
static void describe_gpt(textbuf *t, const eventlog_event *ev)
{
    cursor c = cursor_init(ev->data, ev->data_size);
    const uint8_t *hdr, *disk_guid;
    uint64_t n;

    if (cursor_bytes(&c, 92, &hdr, "", NULL) < 0 || cursor_u64le(&c, &n, "", NULL) < 0) {
        describe_fallback(t, ev->data, ev->data_size);
        return;
    }
    disk_guid = hdr + 56;
    textbuf_printf(t, "GPT disk ");
    textbuf_guid(t, disk_guid);
    textbuf_printf(t, ", %llu partition%s", (unsigned long long)n, n == 1 ? "" : "s");
}

static void describe_no_action(textbuf *t, const eventlog_event *ev)
{
    if (ev->data_size >= 16 && !memcmp(ev->data, "Spec ID Event03", 16)) {
        textbuf_printf(t, "Spec ID Event03");
        return;
    }
    if (ev->data_size >= 17 && !memcmp(ev->data, "StartupLocality", 16)) {
        textbuf_printf(t, "StartupLocality %u", ev->data[16]);
        return;
    }
    describe_fallback(t, ev->data, ev->data_size);
}

static void describe_separator(textbuf *t, const eventlog_event *ev)
{
    cursor c = cursor_init(ev->data, ev->data_size);
    uint32_t v;

    if (ev->data_size == 4 && cursor_u32le(&c, &v, "", NULL) == 0)
        /* PFP 10.4.3: 0 = normal, 1 or 0xffffffff = error. */
        textbuf_printf(t, "0x%08x%s", v, v ? " (error)" : "");
    else
        describe_fallback(t, ev->data, ev->data_size);
}

void eventlog_event_describe(const eventlog_event *ev, char *buf, size_t size)
{
    textbuf t = textbuf_init(buf, size);

    if (size == 0)
        return;
    switch (ev->type) {
    case EV_EFI_VARIABLE_DRIVER_CONFIG:
    case EV_EFI_VARIABLE_BOOT:
    case EV_EFI_VARIABLE_BOOT2:
    case EV_EFI_VARIABLE_AUTHORITY:
    case EV_EFI_SPDM_FIRMWARE_CONFIG:
        describe_variable(&t, ev);
        break;
    case EV_EFI_BOOT_SERVICES_APPLICATION:
    case EV_EFI_BOOT_SERVICES_DRIVER:
    case EV_EFI_RUNTIME_SERVICES_DRIVER:
        describe_image(&t, ev);
        break;
    case EV_EVENT_TAG:
        describe_tag(&t, ev);
        break;
    case EV_SEPARATOR:
        describe_separator(&t, ev);
        break;
    case EV_POST_CODE:
        /* PFP 10.4.1: a string ("POST CODE", "SMM CODE", ...) or a blob. */
        if (!text_is_ascii(ev->data, ev->data_size) && ev->data_size == 16)
            describe_blob(&t, ev, false);
        else
            describe_fallback(&t, ev->data, ev->data_size);
        break;
    case EV_S_CRTM_CONTENTS:
    case EV_EFI_PLATFORM_FIRMWARE_BLOB:
        describe_blob(&t, ev, false);
        break;
    case EV_EFI_PLATFORM_FIRMWARE_BLOB2:
        describe_blob(&t, ev, true);
        break;
    case EV_EFI_HANDOFF_TABLES:
        describe_handoff(&t, ev, false);
        break;
    case EV_EFI_HANDOFF_TABLES2:
        describe_handoff(&t, ev, true);
        break;
    case EV_EFI_GPT_EVENT:
        describe_gpt(&t, ev);
        break;
    case EV_NO_ACTION:
        describe_no_action(&t, ev);
        break;
    default:
        /* EV_IPL, EV_EFI_ACTION, EV_ACTION, EV_S_CRTM_VERSION, EV_EFI_HCRTM_EVENT,
         * EV_COMPACT_HASH, ...: a string in ASCII or UTF-16, else hex. */
        describe_fallback(&t, ev->data, ev->data_size);
        break;
    }
}
