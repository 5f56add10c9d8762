/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client.h"

#include <errno.h>
#include <time.h>

#include "https.h"
#include "timing.h"
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
    uint64_t t0 = https_now_ms(), t1 = 0, t2 = 0, t_us = timing_now_us();
    int r;

    /* In the initramfs the TPM driver may still be probing when the unit
     * starts: wait a little for the device before calling it absent. */
    for (uint64_t until = t0 + (uint64_t)o->cfg.tpm_wait_s * 1000;;) {
        r = tpm_open(o->cfg.tcti, &t, &err);
        if (r != -ENODEV || https_now_ms() + 250 > until)
            break;
        client_debug(o, "waiting for the TPM: %s", bg_err_msg(&err));
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 250 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (r >= 0) {
        t1 = https_now_ms();
        r = tpm_load_ek(t, o->cfg.ek_type, &err);
    }
    if (r >= 0) {
        t2 = https_now_ms();
        r = tpm_load_ak(t, &err);
    }
    if (r < 0) {
        client_msg(o, "%s: %s", client_tpm_strerror(r), bg_err_msg(&err));
        return CLIENT_EXIT_TPM;
    }
    client_debug(o, "TPM: open %llu ms, EK %llu ms, AK %llu ms", (unsigned long long)(t1 - t0),
                 (unsigned long long)(t2 - t1), (unsigned long long)(https_now_ms() - t2));
    timing_add(TIMING_TPM_SETUP, t_us);
    *ret = TAKE_PTR(t);
    return 0;
}
