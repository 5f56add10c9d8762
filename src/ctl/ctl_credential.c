/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl credential make: software TPM2_MakeCredential (credential.h)
 * writing the file tpm2_activatecredential -i reads. */
#include "ctl.h"
#include "ctlutil.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "credential.h"
#include "secmem.h"
#include "tpmpub.h"
#include "util.h"

static void credential_help(FILE *f)
{
    fprintf(f, "Usage: bootgatectl credential make --ek EK_PUBLIC (--name HEX | --ak AK_PUBLIC)\n"
               "                                   --secret FILE --out FILE\n\n"
               "Makes a credential for the TPM holding EK, bound to the object NAME (the AK),\n"
               "like tpm2_makecredential, without a TPM.\n\n"
               "  --ek FILE      EK public (TPM2B_PUBLIC from tpm2_createek -u, or TPMT_PUBLIC):\n"
               "                 RSA-2048 or ECC P-256\n"
               "  --name HEX     object name (tpm2_readpublic -n / tpm2_createak -n, as hex)\n"
               "  --ak FILE      alternatively: AK public whose name to use\n"
               "  --secret FILE  the credential, 1..32 bytes (sha256 EK)\n"
               "  --out FILE     output for tpm2_activatecredential -i\n\n"
               "Exit: 0 ok, 1 refused input, 2 usage, 3 runtime error.\n");
}

/* A TPM public (EK or AK) from a file, as an exit code. */
static int load_pub(const char *what, const char *path, tpmpub **ret)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size = 0;
    bg_err err = {0};
    int r = ctl_read_input(what, path, TPMPUB_MAX_SIZE, &buf, &size);
    if (r != CTL_EXIT_OK)
        return r;
    if (tpmpub_parse(buf, size, ret, &err) < 0)
        return ctl_error(CTL_EXIT_FAIL, "%s '%s': %s", what, path, bg_err_msg(&err));
    return CTL_EXIT_OK;
}

static int credential_make_main(int argc, char **argv)
{
    enum { OPT_EK = 0x100, OPT_NAME, OPT_AK, OPT_SECRET, OPT_OUT };
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"ek", required_argument, NULL, OPT_EK},
        {"name", required_argument, NULL, OPT_NAME},
        {"ak", required_argument, NULL, OPT_AK},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"out", required_argument, NULL, OPT_OUT},
        {},
    };
    const char *ek_path = NULL, *name_hex = NULL, *ak_path = NULL, *secret_path = NULL,
               *out_path = NULL;
    _cleanup_(freep) uint8_t *name_alloc = NULL, *out = NULL;
    _cleanup_(secmem_freep) uint8_t *secret = NULL;
    _cleanup_(tpmpub_freep) tpmpub *ek = NULL;
    _cleanup_(tpmpub_freep) tpmpub *ak = NULL;
    uint8_t *file_secret = NULL;
    const uint8_t *name;
    size_t name_size = 0, secret_size = 0, out_size = 0;
    credential_blob blob;
    bg_err err = {0};
    int c, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
        switch (c) {
        case 'h':
            credential_help(stdout);
            return CTL_EXIT_OK;
        case OPT_EK:
            ek_path = optarg;
            break;
        case OPT_NAME:
            name_hex = optarg;
            break;
        case OPT_AK:
            ak_path = optarg;
            break;
        case OPT_SECRET:
            secret_path = optarg;
            break;
        case OPT_OUT:
            out_path = optarg;
            break;
        default:
            return ctl_usage_error("credential", "invalid option");
        }
    }
    if (optind < argc)
        return ctl_usage_error("credential", "unexpected argument '%s'", argv[optind]);
    if (!ek_path || !secret_path || !out_path || !name_hex == !ak_path)
        return ctl_usage_error("credential",
                               "make needs --ek, --secret, --out and one of --name / --ak");
    if (name_hex && hex_decode_alloc(name_hex, &name_alloc, &name_size, &err) < 0)
        return ctl_usage_error("credential", "--name: %s", bg_err_msg(&err));

    r = load_pub("EK", ek_path, &ek);
    if (r != CTL_EXIT_OK)
        return r;
    if (ak_path) {
        r = load_pub("AK", ak_path, &ak);
        if (r != CTL_EXIT_OK)
            return r;
        if (!ak->has_public)
            return ctl_error(CTL_EXIT_FAIL, "AK '%s' is PEM: it has no TPM name", ak_path);
        name = ak->name, name_size = ak->name_size;
    } else
        name = name_alloc;

    /* The credential is a secret: into mlock'd memory, the read buffer wiped. */
    r = ctl_read_input("secret", secret_path, CREDENTIAL_MAX_SECRET, &file_secret, &secret_size);
    if (r != CTL_EXIT_OK)
        return r;
    secret = secmem_alloc(CREDENTIAL_MAX_SECRET);
    if (secret)
        memcpy(secret, file_secret, secret_size);
    secmem_wipe(file_secret, secret_size);
    free(file_secret);
    if (!secret)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");

    r = credential_make(ek, name, name_size, secret, secret_size, &blob, &err);
    if (r == -EINVAL || r == -EOPNOTSUPP)
        return ctl_error(CTL_EXIT_FAIL, "credential refused: %s", bg_err_msg(&err));
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "MakeCredential failed: %s", bg_err_msg(&err));
    r = credential_to_tpm2_tools(&blob, &out, &out_size, &err);
    if (r >= 0)
        r = write_file_atomic(out_path, out, out_size, 0644, &err);
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "cannot write '%s': %s", out_path, bg_err_msg(&err));
    return CTL_EXIT_OK;
}

int ctl_credential_main(int argc, char **argv)
{
    return ctl_single_subcommand("credential", argc, argv, credential_help, "make",
                                 credential_make_main);
}
