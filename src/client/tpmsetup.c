/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client.h"

#include <errno.h>

#include "http.h"
#include "tpm.h"

const char *client_tpm_strerror(int r)
{
    switch (r) {
    case -ENODEV:
        return "no TPM";
    case -ENOLCK:
        return "TPM is in dictionary-attack lockout";
    case -EKEYREJECTED:
        return "the TPM refused the credential (TPM cleared or replaced?)";
    case -EAGAIN:
        return "PCRs kept changing while quoting";
    default:
        return "TPM error";
    }
}

int client_tpm_setup(const client_opts *o, tpm_ctx **ret)
{
    _cleanup_(tpm_closep) tpm_ctx *t = NULL;
    bg_err err = {{0}};
    uint64_t t0 = http_now_ms(), t1 = 0, t2 = 0;
    int r;

    r = tpm_open(o->cfg.tcti, &t, &err);
    if (r >= 0) {
        t1 = http_now_ms();
        r = tpm_load_ek(t, o->cfg.ek_type, &err);
    }
    if (r >= 0) {
        t2 = http_now_ms();
        r = tpm_load_ak(t, &err);
    }
    if (r < 0) {
        client_msg(o, "%s: %s", client_tpm_strerror(r), bg_err_msg(&err));
        return CLIENT_EXIT_TPM;
    }
    client_debug(o, "TPM: open %llu ms, EK %llu ms, AK %llu ms", (unsigned long long)(t1 - t0),
                 (unsigned long long)(t2 - t1), (unsigned long long)(http_now_ms() - t2));
    *ret = TAKE_PTR(t);
    return 0;
}
