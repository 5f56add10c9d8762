/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgate-unlock hands libtss2-esys one OpenSSL library context instead of a
 * new one per hash/HMAC/random draw (see osslctx.c). This counts how many
 * times ESYS asked for one and got the shared context; --timing prints it, and
 * the tests check that it is not 0 (i.e. the override is bound). */
unsigned osslctx_shared_uses(void);
