/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * OpenSSL's default library context for tpm2-tss's throwaway ones.
 *
 * tpm2-tss 3.2 (Debian 12's libtss2-esys) wraps every hash, HMAC, random draw
 * and public-key operation of ESYS in a context of its own: OSSL_LIB_CTX_new(),
 * fetch, compute, OSSL_LIB_CTX_free(). Each new context activates the default
 * provider again, copies OpenSSL's whole legacy algorithm-name table into its
 * name map and instantiates and seeds a new DRBG: about 0.3 ms of CPU, some 30
 * times per unlock (the salted session, the policy session, cpHash/rpHash and
 * HMAC of each authorised command, object names). perf showed it as ~10 ms of
 * CPU in a 30 ms unlock with a persistent EK, all of it inside the "TPM" phases.
 *
 * bootgate-unlock therefore defines OSSL_LIB_CTX_new() and OSSL_LIB_CTX_free()
 * itself. The dynamic linker binds every library's calls to them (the
 * executable comes first in the global lookup scope). Calls that come from
 * libtss2-esys get the process's default context, the one our own code and
 * libcurl use (its name map is then built once, not 30 times), and freeing it
 * is a no-op, as in OpenSSL itself. Every other caller (libcryptsetup's crypto
 * backend, libcrypto itself) gets the real functions: libcryptsetup loads the
 * legacy provider into its own context and unloads it from a destructor after
 * OpenSSL's own cleanup, so it must keep a context of its own. What ESYS
 * computes does not change: it fetches the same default-provider algorithms,
 * and its random bytes come from the default DRBG, seeded from the kernel.
 * Newer tpm2-tss (4.0+) has Esys_SetCryptoCallbacks for this.
 */
#include "osslctx.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>

#include <openssl/crypto.h>
#include <tss2/tss2_esys.h>

typedef OSSL_LIB_CTX *ctx_new_fn(void);
typedef void ctx_free_fn(OSSL_LIB_CTX *);

static ctx_new_fn *real_new;
static ctx_free_fn *real_free;
static const void *esys_base; /* load address of libtss2-esys */
static atomic_uint shared_uses;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void osslctx_init(void)
{
    Dl_info info;

    real_new = (ctx_new_fn *)dlsym(RTLD_NEXT, "OSSL_LIB_CTX_new");
    real_free = (ctx_free_fn *)dlsym(RTLD_NEXT, "OSSL_LIB_CTX_free");
    if (dladdr((const void *)&Esys_Initialize, &info) && info.dli_fbase)
        esys_base = info.dli_fbase;
}

static bool called_from_esys(const void *ret_addr)
{
    Dl_info info;

    return esys_base && dladdr(ret_addr, &info) && info.dli_fbase == esys_base;
}

OSSL_LIB_CTX *OSSL_LIB_CTX_new(void)
{
    const void *caller = __builtin_return_address(0);

    pthread_once(&once, osslctx_init);
    if (!real_new)
        return NULL; /* cannot happen with a dynamically linked libcrypto */
    if (!called_from_esys(caller))
        return real_new();
    atomic_fetch_add(&shared_uses, 1);
    return OSSL_LIB_CTX_get0_global_default();
}

/* OpenSSL's own free already ignores the default context; the wrapper only
 * exists so that the pair stays together should that ever change. */
void OSSL_LIB_CTX_free(OSSL_LIB_CTX *ctx)
{
    pthread_once(&once, osslctx_init);
    if (!ctx || ctx == OSSL_LIB_CTX_get0_global_default() || !real_free)
        return;
    real_free(ctx);
}

unsigned osslctx_shared_uses(void)
{
    return atomic_load(&shared_uses);
}
