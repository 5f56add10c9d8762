/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A Tang client doing what `clevis encrypt tang` does once and `clevis decrypt`
 * does per boot (McCallum-Relyea exchange, tang(8), clevis-encrypt-tang(1)):
 *   bind:    GET /adv; S = the ECMR key; c random; C = cG; K = cS (the key)
 *   recover: e random; X = C + eG; POST /rec/KID {X} -> Y = sX = K + eS;
 *            K' = Y - eS; K' must equal K
 * each request on a new TCP connection, as clevis's curl does. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "cleanup.h"

#define TANG_MAX_ANSWER (64u << 10)

struct lg_tang {
    char host[64];
    unsigned port;
    EC_GROUP *group;
    size_t coord_size; /* 66 for P-521 */
    char crv[16];
    char kid[64];
    EC_POINT *s, *c_pub, *k; /* server key, C = cG, K = cS */
};

static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[len] = 0;
    return (size_t)len;
}

/* -1 when malformed; else the number of bytes written (at most max). */
static int b64url_decode(const char *in, uint8_t *out, size_t max)
{
    size_t n = strlen(in), pad = (4 - n % 4) % 4;
    char *tmp;
    int len;
    if (pad == 3 || (n + pad) / 4 * 3 > max + 3)
        return -1;
    tmp = malloc(n + pad + 1);
    if (!tmp)
        return -1;
    for (size_t i = 0; i < n; i++)
        tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    memset(tmp + n, '=', pad);
    tmp[n + pad] = 0;
    uint8_t *buf = malloc((n + pad) / 4 * 3 + 1);
    len = buf ? EVP_DecodeBlock(buf, (unsigned char *)tmp, (int)(n + pad)) : -1;
    free(tmp);
    if (len < 0 || (size_t)len - pad > max) {
        free(buf);
        return -1;
    }
    len -= (int)pad;
    memcpy(out, buf, (size_t)len);
    free(buf);
    return len;
}

/* One HTTP/1.1 exchange on a new TCP connection; the body of a 200 answer. */
static int http_exchange(const lg_tang *t, const char *method, const char *path, const char *body,
                         char **ret_body, bg_err *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
    char req[1024], *buf = NULL, *p;
    size_t size = 0;
    int fd, n, r = 0;
    long status = 0;

    *ret_body = NULL;
    if (inet_pton(AF_INET, t->host, &sa.sin_addr) != 1)
        return bg_err_set(err, -EINVAL, "Tang host must be an IPv4 address: %s", t->host);
    n = snprintf(req, sizeof(req),
                 "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n"
                 "Content-Type: application/jwk+json\r\nContent-Length: %zu\r\n\r\n%s",
                 method, path, t->host, t->port, body ? strlen(body) : 0, body ? body : "");
    if (n < 0 || (size_t)n >= sizeof(req))
        return bg_err_set(err, -E2BIG, "request too large");
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bg_err_set(err, -errno, "socket: %m");
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = bg_err_set(err, -ENETUNREACH, "connect %s:%u: %m", t->host, t->port);
        goto out;
    }
    if (write(fd, req, (size_t)n) != n) {
        r = bg_err_set(err, -ENETUNREACH, "write: %m");
        goto out;
    }
    buf = malloc(TANG_MAX_ANSWER + 1);
    if (!buf) {
        r = bg_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    /* tangd answers and then waits for the next request or EOF: read up to
     * the end of the body that Content-Length announces */
    while (size < TANG_MAX_ANSWER) {
        ssize_t got = read(fd, buf + size, TANG_MAX_ANSWER - size);
        if (got < 0) {
            r = bg_err_set(err, -ENETUNREACH, "read: %m");
            goto out;
        }
        if (got == 0)
            break;
        size += (size_t)got;
        buf[size] = 0;
        p = strstr(buf, "\r\n\r\n");
        if (p) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            unsigned long len;
            if (cl && cl < p && sscanf(cl + 17, "%lu", &len) == 1 &&
                (size_t)(p + 4 - buf) + len <= size)
                break;
        }
    }
    buf[size] = 0;
    if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1) {
        r = bg_err_set(err, -EBADMSG, "no HTTP answer (%zu bytes)", size);
        goto out;
    }
    if (status != 200) {
        r = bg_err_set(err, status >= 500 ? -EIO : -EPERM, "%s %s: HTTP %ld", method, path, status);
        goto out;
    }
    p = strstr(buf, "\r\n\r\n");
    if (!p) {
        r = bg_err_set(err, -EBADMSG, "HTTP answer without body");
        goto out;
    }
    *ret_body = strdup(p + 4);
    if (!*ret_body)
        r = bg_err_set(err, -ENOMEM, "out of memory");
out:
    free(buf);
    close(fd);
    return r;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* The EC point of a JWK on t->group, or NULL. */
static EC_POINT *jwk_point(const lg_tang *t, json_object *jwk, BN_CTX *ctx)
{
    const char *xs = jstr(jwk, "x"), *ys = jstr(jwk, "y");
    uint8_t x[80], y[80];
    int xl, yl;
    EC_POINT *p = NULL;
    BIGNUM *bx = NULL, *by = NULL;

    if (!xs || !ys)
        return NULL;
    xl = b64url_decode(xs, x, sizeof(x));
    yl = b64url_decode(ys, y, sizeof(y));
    if (xl != (int)t->coord_size || yl != (int)t->coord_size)
        return NULL;
    bx = BN_bin2bn(x, xl, NULL);
    by = BN_bin2bn(y, yl, NULL);
    p = EC_POINT_new(t->group);
    if (!bx || !by || !p || EC_POINT_set_affine_coordinates(t->group, p, bx, by, ctx) != 1) {
        EC_POINT_free(p);
        p = NULL;
    }
    BN_free(bx);
    BN_free(by);
    return p;
}

/* {"alg":"ECMR","crv":..,"key_ops":["deriveKey"],"kty":"EC","x":..,"y":..} */
static char *point_jwk(const lg_tang *t, const EC_POINT *p, BN_CTX *ctx)
{
    BIGNUM *bx = BN_new(), *by = BN_new();
    uint8_t x[80], y[80];
    char xs[128], ys[128], *out = NULL;
    if (bx && by && EC_POINT_get_affine_coordinates(t->group, p, bx, by, ctx) == 1 &&
        BN_bn2binpad(bx, x, (int)t->coord_size) == (int)t->coord_size &&
        BN_bn2binpad(by, y, (int)t->coord_size) == (int)t->coord_size) {
        b64url_encode(x, t->coord_size, xs);
        b64url_encode(y, t->coord_size, ys);
        if (asprintf(&out,
                     "{\"alg\":\"ECMR\",\"crv\":\"%s\",\"key_ops\":[\"deriveKey\"],"
                     "\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                     t->crv, xs, ys) < 0)
            out = NULL;
    }
    BN_free(bx);
    BN_free(by);
    return out;
}

void lg_tang_free(lg_tang *t)
{
    if (!t)
        return;
    EC_POINT_free(t->s);
    EC_POINT_free(t->c_pub);
    EC_POINT_clear_free(t->k);
    EC_GROUP_free(t->group);
    free(t);
}

static int find_ecmr(lg_tang *t, json_object *keys, BN_CTX *ctx, bg_err *err)
{
    for (size_t i = 0; i < json_object_array_length(keys); i++) {
        json_object *k = json_object_array_get_idx(keys, i);
        const char *alg = jstr(k, "alg"), *crv = jstr(k, "crv"), *x = jstr(k, "x"),
                   *y = jstr(k, "y");
        char thp_in[512];
        uint8_t md[32];
        if (!alg || strcmp(alg, "ECMR") != 0 || !crv || !x || !y)
            continue;
        if (strcmp(crv, "P-521") == 0)
            t->group = EC_GROUP_new_by_curve_name(NID_secp521r1), t->coord_size = 66;
        else if (strcmp(crv, "P-384") == 0)
            t->group = EC_GROUP_new_by_curve_name(NID_secp384r1), t->coord_size = 48;
        else if (strcmp(crv, "P-256") == 0)
            t->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1), t->coord_size = 32;
        else
            return bg_err_set(err, -EOPNOTSUPP, "Tang ECMR key on curve %s", crv);
        snprintf(t->crv, sizeof(t->crv), "%s", crv);
        t->s = t->group ? jwk_point(t, k, ctx) : NULL;
        if (!t->s)
            return bg_err_set(err, -EBADMSG, "Tang ECMR key is not a point on %s", crv);
        /* RFC 7638 thumbprint, SHA-256: the kid clevis puts in the JWE */
        snprintf(thp_in, sizeof(thp_in),
                 "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", crv, x, y);
        if (!EVP_Digest(thp_in, strlen(thp_in), md, NULL, EVP_sha256(), NULL))
            return bg_err_set(err, -EIO, "SHA-256 failed");
        b64url_encode(md, sizeof(md), t->kid);
        return 0;
    }
    return bg_err_set(err, -ENOENT, "Tang advertisement has no ECMR key");
}

int lg_tang_bind(const char *host, unsigned port, lg_tang **ret, bg_err *err)
{
    lg_tang *t = calloc(1, sizeof(*t));
    char *body = NULL;
    json_object *jws = NULL, *payload = NULL, *keys;
    uint8_t *pl = NULL;
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *c = BN_new();
    const char *p64;
    int r, pl_size;

    if (!t || !ctx || !c) {
        r = bg_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    snprintf(t->host, sizeof(t->host), "%s", host);
    t->port = port;
    r = http_exchange(t, "GET", "/adv", NULL, &body, err);
    if (r < 0)
        goto out;
    jws = json_tokener_parse(body);
    p64 = jws ? jstr(jws, "payload") : NULL;
    pl = p64 && p64[0] ? malloc(strlen(p64)) : NULL;
    pl_size = pl ? b64url_decode(p64, pl, strlen(p64) - 1) : -1;
    if (pl_size < 0) {
        r = bg_err_set(err, -EBADMSG, "Tang /adv is not a JWS");
        goto out;
    }
    {
        char *z = strndup((const char *)pl, (size_t)pl_size);
        payload = z ? json_tokener_parse(z) : NULL;
        free(z);
    }
    if (!payload || !json_object_object_get_ex(payload, "keys", &keys) ||
        !json_object_is_type(keys, json_type_array)) {
        r = bg_err_set(err, -EBADMSG, "Tang /adv payload has no keys");
        goto out;
    }
    r = find_ecmr(t, keys, ctx, err);
    if (r < 0)
        goto out;
    t->c_pub = EC_POINT_new(t->group);
    t->k = EC_POINT_new(t->group);
    if (!t->c_pub || !t->k || BN_rand_range(c, EC_GROUP_get0_order(t->group)) != 1 ||
        EC_POINT_mul(t->group, t->c_pub, c, NULL, NULL, ctx) != 1 ||
        EC_POINT_mul(t->group, t->k, NULL, t->s, c, ctx) != 1) {
        r = bg_err_set(err, -EIO, "EC arithmetic failed");
        goto out;
    }
    *ret = t;
    t = NULL;
out:
    BN_clear_free(c);
    BN_CTX_free(ctx);
    free(pl);
    free(body);
    json_object_put(jws);
    json_object_put(payload);
    lg_tang_free(t);
    return r;
}

lg_error lg_tang_recover(const lg_tang *t, bg_err *err)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *e = BN_new();
    EC_POINT *x = EC_POINT_new(t->group), *es = EC_POINT_new(t->group), *y = NULL;
    char path[128], *req = NULL, *body = NULL;
    json_object *jwk = NULL;
    lg_error ret = LG_ERR_LOCAL;
    int r;

    if (!ctx || !e || !x || !es || BN_rand_range(e, EC_GROUP_get0_order(t->group)) != 1 ||
        EC_POINT_mul(t->group, x, e, NULL, NULL, ctx) != 1 ||
        EC_POINT_add(t->group, x, x, t->c_pub, ctx) != 1 || !(req = point_jwk(t, x, ctx))) {
        bg_err_set(err, -EIO, "EC arithmetic failed");
        goto out;
    }
    snprintf(path, sizeof(path), "/rec/%s", t->kid);
    r = http_exchange(t, "POST", path, req, &body, err);
    if (r < 0) {
        ret = r == -ENETUNREACH ? LG_ERR_TRANSPORT
              : r == -EPERM     ? LG_ERR_HTTP_4XX
              : r == -EIO       ? LG_ERR_HTTP_5XX
                                : LG_ERR_DECODE;
        goto out;
    }
    jwk = json_tokener_parse(body);
    y = jwk ? jwk_point(t, jwk, ctx) : NULL;
    if (!y) {
        bg_err_set(err, -EBADMSG, "Tang answer is not a JWK point");
        ret = LG_ERR_DECODE;
        goto out;
    }
    /* K' = Y - eS */
    if (EC_POINT_mul(t->group, es, NULL, t->s, e, ctx) != 1 ||
        EC_POINT_invert(t->group, es, ctx) != 1 || EC_POINT_add(t->group, y, y, es, ctx) != 1) {
        bg_err_set(err, -EIO, "EC arithmetic failed");
        goto out;
    }
    if (EC_POINT_cmp(t->group, y, t->k, ctx) != 0) {
        bg_err_set(err, -EPERM, "Tang recovery gave another key");
        ret = LG_ERR_KEY;
        goto out;
    }
    ret = LG_OK;
out:
    json_object_put(jwk);
    free(req);
    free(body);
    EC_POINT_clear_free(y);
    EC_POINT_clear_free(es);
    EC_POINT_free(x);
    BN_clear_free(e);
    BN_CTX_free(ctx);
    return ret;
}
