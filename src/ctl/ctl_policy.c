/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgatectl policy: sign, verify, show, diff (documents) and the dispatch to
 * capture / predict / explain (logs, ctl_policy_logs.c). */
#include "ctl_policy.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ctl.h"
#include "ctlutil.h"
#include "policy.h"
#include "util.h"

static void usage(FILE *f)
{
    fputs("Usage: bootgatectl policy COMMAND [OPTIONS]\n"
          "\n"
          "Offline:\n"
          "  capture --eventlog LOG [--ima IMA] --name N --version V [--mode enforce|audit]\n"
          "          [--pcrs 0-9,11] [--baseline NAME] [--not-after TIME] [--out FILE]\n"
          "  predict --reference LOG --name N --version V [--kernel FILE | --kernel-digest HEX\n"
          "          | --uki FILE] [--initrd FILE] [--cmdline STR] [--baseline NAME] [--out FILE]\n"
          "  sign --key KEY.pem [--out SIG] POLICY      detached Ed25519 (default POLICY.sig)\n"
          "  verify --signers DIR POLICY [SIG]\n"
          "  show [--json | --canonical] POLICY\n"
          "  diff [--json] A B                          exit 1 when they differ\n"
          "  explain --policy P --eventlog LOG [--ima IMA] [--at TIME] [--json]\n"
          "  image-digest FILE...                       PE Authenticode SHA-256 (PCR 4)\n"
          "\n"
          "Online (bootgated admin API, mTLS; see each command's --help):\n"
          "  publish POLICY [SIG]                       upload a signed version\n"
          "  activate NAME VERSION [--force --reason T] make a stored version active (rollback);\n"
          "                                             refused when it would lock out nodes\n"
          "  list                                       stored versions\n"
          "  show --remote NAME [VERSION]               a stored version (default: active)\n"
          "  what-if POLICY [--group G] [--json]        judge a candidate on the group's latest\n"
          "                                             stored boots: release/deny by reason\n"
          "  propose --from-attempt ID --name N --version V [--into CURRENT.json] [--out FILE]\n"
          "                                             a baseline from a stored attempt's logs\n"
          "\n"
          "TIME is UTC: YYYY-MM-DDTHH:MM:SSZ. Exit codes: 0 ok, 1 check failed / deny,\n"
          "2 usage, 3 runtime error.\n",
          f);
}

int ctl_policy_write_output(const char *path, const char *text)
{
    bg_err err = {{0}};
    if (!path || !strcmp(path, "-")) {
        fputs(text, stdout);
        return fflush(stdout) == 0 ? CTL_EXIT_OK
                                   : ctl_error(CTL_EXIT_RUNTIME, "writing stdout: %m");
    }
    if (write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    return CTL_EXIT_OK;
}

static int load_policy(const char *path, policy **ret)
{
    bg_err err = {{0}};
    int r = policy_load(path, ret, &err);
    if (r < 0)
        return ctl_error(r == -EINVAL || r == -EFBIG ? CTL_EXIT_FAIL : CTL_EXIT_RUNTIME, "%s",
                         bg_err_msg(&err));
    return CTL_EXIT_OK;
}

static int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {}};
    const char *key = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) >= 0)
        switch (c) {
        case 'k':
            key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            puts("Usage: bootgatectl policy sign --key KEY.pem [--out SIG] POLICY\n"
                 "Signs the policy's canonical form with an Ed25519 private key (PEM).\n"
                 "The signature (base64) goes to SIG, default POLICY.sig; '-' = stdout.");
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy sign", "bad option");
        }
    if (!key)
        return ctl_usage_error("policy sign", "--key is required");
    if (optind + 1 != argc)
        return ctl_usage_error("policy sign", "expected exactly one POLICY file");

    _cleanup_(policy_freep) policy *p = NULL;
    int r = load_policy(argv[optind], &p);
    if (r != CTL_EXIT_OK)
        return r;
    uint8_t sig[POLICY_SIG_SIZE];
    bg_err err = {{0}};
    if (policy_sign(p, key, sig, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    _cleanup_(freep) char *text = policy_signature_encode(sig);
    _cleanup_(freep) char *def = NULL;
    if (!text)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    if (!out) {
        if (asprintf(&def, "%s.sig", argv[optind]) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        out = def;
    }
    r = ctl_policy_write_output(out, text);
    if (r == CTL_EXIT_OK && strcmp(out, "-"))
        fprintf(stderr, "signed %s v%llu -> %s\n", p->name, (unsigned long long)p->version, out);
    return r;
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"signers", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {}};
    const char *signers = NULL;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) >= 0)
        switch (c) {
        case 's':
            signers = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            puts("Usage: bootgatectl policy verify --signers DIR [--json] POLICY [SIG]\n"
                 "Checks the detached signature (default POLICY.sig) against DIR/*.pub.\n"
                 "Exit 0 when a trusted signer signed this policy, 1 when not.");
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy verify", "bad option");
        }
    if (!signers)
        return ctl_usage_error("policy verify", "--signers is required");
    if (optind >= argc || argc - optind > 2)
        return ctl_usage_error("policy verify", "expected POLICY [SIG]");

    _cleanup_(policy_freep) policy *p = NULL;
    _cleanup_(freep) char *def = NULL;
    const char *sig_path = argv[optind + 1];
    if (!sig_path) {
        if (asprintf(&def, "%s.sig", argv[optind]) < 0)
            return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
        sig_path = def;
    }
    int r = load_policy(argv[optind], &p);
    if (r != CTL_EXIT_OK)
        return r;
    uint8_t sig[POLICY_SIG_SIZE];
    bg_err err = {{0}};
    if ((r = policy_signature_read(sig_path, sig, &err)) < 0)
        return ctl_error(r == -EBADMSG ? CTL_EXIT_FAIL : CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    policy_signer signer;
    r = policy_verify(p, sig, signers, &signer, &err);
    if (r == -EPERM)
        return ctl_error(CTL_EXIT_FAIL, "%s: %s", argv[optind], bg_err_msg(&err));
    if (r < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "policy", json_object_new_string(p->name));
        json_object_object_add(o, "version", json_object_new_int64((int64_t)p->version));
        json_object_object_add(o, "signer", json_object_new_string(signer.name));
        json_object_object_add(o, "fingerprint", json_object_new_string(signer.fingerprint));
        ctl_print_json(o);
        json_object_put(o);
    } else
        printf("OK: %s v%llu signed by %s (sha256:%s)\n", p->name, (unsigned long long)p->version,
               signer.name, signer.fingerprint);
    return CTL_EXIT_OK;
}

static void canonical_sha256(const policy *p, char hex[65])
{
    uint8_t d[32];
    if (EVP_Digest(p->canonical, p->canonical_size, d, NULL, EVP_sha256(), NULL) == 1)
        hex_encode(d, sizeof d, hex);
    else
        snprintf(hex, 65, "?");
}

void ctl_policy_show_human(const policy *p)
{
    char gate[96], hex[65], tb[16];
    canonical_sha256(p, hex);
    policy_format_pcr_mask(p->gate_mask, gate, sizeof gate);
    printf("policy %s version %llu\n", p->name, (unsigned long long)p->version);
    printf("  mode:       %s\n", policy_mode_name(p->mode));
    printf("  gate PCRs:  %s (sha256)\n", gate);
    printf("  not after:  %s\n", p->has_not_after ? p->not_after_str : "(never expires)");
    printf("  canonical:  sha256:%s (%zu bytes)\n", hex, p->canonical_size);
    for (size_t i = 0; i < p->n_baselines; i++) {
        const policy_baseline *b = &p->baselines[i];
        printf("  baseline %s (%zu events)\n", b->name, b->n_events);
        for (unsigned j = 0; j < PCR_COUNT; j++)
            if (b->pcr_mask & (1u << j)) {
                hex_encode(b->pcrs[j], POLICY_DIGEST_SIZE, hex);
                printf("    PCR %-2u %s%s\n", j, hex,
                       p->gate_mask & (1u << j) ? "" : " (not gated)");
            }
    }
    for (size_t i = 0; i < p->n_rules; i++) {
        const policy_rule *r = &p->rules[i];
        printf("  rule: PCR %u %s%s%s%s: %zu digest%s\n", r->pcr, ctl_event_type_label(r->type, tb),
               r->desc ? " \"" : "", r->desc ? r->desc : "", r->desc ? "\"" : "", r->n_digests,
               r->n_digests == 1 ? "" : "s");
        for (size_t j = 0; j < r->n_digests; j++) {
            hex_encode(r->digests[j], POLICY_DIGEST_SIZE, hex);
            printf("    %s\n", hex);
        }
    }
    if (p->ima) {
        printf("  ima: %zu allowed file digests, %zu ignored path patterns\n", p->ima->n_allow,
               p->ima->n_ignore);
        for (size_t i = 0; i < p->ima->n_ignore; i++)
            printf("    ignore %s\n", p->ima->ignore_src[i]);
    }
}

static int cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {ADMINAPI_LONGOPTS,
                                         {"remote", no_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"canonical", no_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {}};
    _cleanup_(adminapi_opts_done) adminapi_opts o = {0};
    bool json = false, canonical = false, remote = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
        if (adminapi_opt(&o, c, optarg)) {
            remote = true;
            continue;
        }
        switch (c) {
        case 'r':
            remote = true;
            break;
        case 'j':
            json = true;
            break;
        case 'c':
            canonical = true;
            break;
        case 'h':
            printf("Usage: bootgatectl policy show [--json | --canonical] POLICY\n"
                   "       bootgatectl policy show --remote [OPTIONS] [--json] NAME [VERSION]\n"
                   "Prints the policy; --canonical prints the exact bytes that are signed\n"
                   "(the signature covers \"bootgate-policy-v1\\n\" followed by them).\n"
                   "--remote (implied by --server) fetches a stored version from bootgated,\n"
                   "by default the active one.\n\n%s",
                   ADMINAPI_USAGE);
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy show", "bad option");
        }
    }
    if (remote) {
        if (canonical)
            return ctl_usage_error("policy show", "--canonical works on a local file");
        return ctl_policy_show_remote(&o, json, argc - optind, argv + optind);
    }
    if (optind + 1 != argc)
        return ctl_usage_error("policy show", "expected one POLICY file");
    _cleanup_(policy_freep) policy *p = NULL;
    int r = load_policy(argv[optind], &p);
    if (r != CTL_EXIT_OK)
        return r;
    if (canonical) {
        fwrite(p->canonical, 1, p->canonical_size, stdout);
        return CTL_EXIT_OK;
    }
    if (json) {
        char hex[65];
        canonical_sha256(p, hex);
        json_object *out = json_object_new_object();
        json_object_object_add(out, "policy", json_object_get(p->doc));
        json_object_object_add(out, "canonical_sha256", json_object_new_string(hex));
        puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(out);
        return CTL_EXIT_OK;
    }
    ctl_policy_show_human(p);
    return CTL_EXIT_OK;
}

/* diff ------------------------------------------------------------------- */

static const policy_baseline *find_baseline(const policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_baselines; i++)
        if (!strcmp(p->baselines[i].name, name))
            return &p->baselines[i];
    return NULL;
}

static void diff_line(json_object *arr, bool json, const char *what, const char *detail)
{
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "change", json_object_new_string(what));
        json_object_object_add(o, "detail", json_object_new_string(detail));
        json_object_array_add(arr, o);
    } else
        printf("%-9s %s\n", what, detail);
}

static int cmd_diff(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {}};
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            puts("Usage: bootgatectl policy diff [--json] A B\n"
                 "Lists the settings, baselines and PCR values that changed from A to B.\n"
                 "Exit 0 when the policies are the same, 1 when they differ.");
            return CTL_EXIT_OK;
        default:
            return ctl_usage_error("policy diff", "bad option");
        }
    if (optind + 2 != argc)
        return ctl_usage_error("policy diff", "expected two POLICY files");
    _cleanup_(policy_freep) policy *a = NULL;
    _cleanup_(policy_freep) policy *b = NULL;
    int r = load_policy(argv[optind], &a);
    if (r != CTL_EXIT_OK)
        return r;
    if ((r = load_policy(argv[optind + 1], &b)) != CTL_EXIT_OK)
        return r;

    json_object *arr = json_object_new_array();
    char d[512], x[96], y[96], hx[65], hy[65];
    size_t n = 0;
#define CHANGE(what, ...)                                                                          \
    do {                                                                                           \
        snprintf(d, sizeof d, __VA_ARGS__);                                                        \
        diff_line(arr, json, what, d);                                                             \
        n++;                                                                                       \
    } while (0)

    if (strcmp(a->name, b->name))
        CHANGE("changed", "name %s -> %s", a->name, b->name);
    if (a->version != b->version)
        CHANGE("changed", "version %llu -> %llu", (unsigned long long)a->version,
               (unsigned long long)b->version);
    if (a->mode != b->mode)
        CHANGE("changed", "mode %s -> %s", policy_mode_name(a->mode), policy_mode_name(b->mode));
    if (a->gate_mask != b->gate_mask) {
        policy_format_pcr_mask(a->gate_mask, x, sizeof x);
        policy_format_pcr_mask(b->gate_mask, y, sizeof y);
        CHANGE("changed", "gate_pcrs %s -> %s", x, y);
    }
    if (a->has_not_after != b->has_not_after || (a->has_not_after && a->not_after != b->not_after))
        CHANGE("changed", "not_after %s -> %s", a->has_not_after ? a->not_after_str : "never",
               b->has_not_after ? b->not_after_str : "never");
    for (size_t i = 0; i < a->n_baselines; i++)
        if (!find_baseline(b, a->baselines[i].name))
            CHANGE("removed", "baseline %s", a->baselines[i].name);
    for (size_t i = 0; i < b->n_baselines; i++) {
        const policy_baseline *nb = &b->baselines[i], *ob = find_baseline(a, nb->name);
        if (!ob) {
            CHANGE("added", "baseline %s", nb->name);
            continue;
        }
        for (unsigned j = 0; j < PCR_COUNT; j++) {
            bool ia = ob->pcr_mask & (1u << j), ib = nb->pcr_mask & (1u << j);
            if (!ia && !ib)
                continue;
            if (ia)
                hex_encode(ob->pcrs[j], POLICY_DIGEST_SIZE, hx);
            if (ib)
                hex_encode(nb->pcrs[j], POLICY_DIGEST_SIZE, hy);
            if (ia != ib || memcmp(ob->pcrs[j], nb->pcrs[j], POLICY_DIGEST_SIZE))
                CHANGE("changed", "baseline %s PCR %u %s -> %s", nb->name, j, ia ? hx : "(none)",
                       ib ? hy : "(none)");
        }
        if (ob->n_events != nb->n_events)
            CHANGE("changed", "baseline %s events %zu -> %zu", nb->name, ob->n_events,
                   nb->n_events);
    }
    if (a->n_rules != b->n_rules)
        CHANGE("changed", "event_rules %zu -> %zu rules", a->n_rules, b->n_rules);
    else
        for (size_t i = 0; i < a->n_rules; i++) {
            const policy_rule *ra = &a->rules[i], *rb = &b->rules[i];
            if (ra->pcr != rb->pcr || ra->type != rb->type || ra->n_digests != rb->n_digests ||
                (!ra->desc) != (!rb->desc) || (ra->desc && strcmp(ra->desc, rb->desc)) ||
                memcmp(ra->digests, rb->digests, ra->n_digests * POLICY_DIGEST_SIZE))
                CHANGE("changed", "event_rules[%zu] (PCR %u -> %u, %zu -> %zu digests)", i, ra->pcr,
                       rb->pcr, ra->n_digests, rb->n_digests);
        }
    size_t ia = a->ima ? a->ima->n_allow : 0, ib = b->ima ? b->ima->n_allow : 0;
    if (!a->ima != !b->ima)
        CHANGE(b->ima ? "added" : "removed", "ima section");
    else if (a->ima &&
             (ia != ib || memcmp(a->ima->allow, b->ima->allow, ia * sizeof *a->ima->allow)))
        CHANGE("changed", "ima.allow %zu -> %zu digests", ia, ib);
    if (a->ima && b->ima) {
        bool same = a->ima->n_ignore == b->ima->n_ignore;
        for (size_t i = 0; same && i < a->ima->n_ignore; i++)
            same = !strcmp(a->ima->ignore_src[i], b->ima->ignore_src[i]);
        if (!same)
            CHANGE("changed", "ima.ignore_paths %zu -> %zu patterns", a->ima->n_ignore,
                   b->ima->n_ignore);
    }
    if (!n && (a->canonical_size != b->canonical_size ||
               memcmp(a->canonical, b->canonical, a->canonical_size)))
        CHANGE("changed", "other content (descriptions, event lists)");
#undef CHANGE
    if (json)
        ctl_print_json(arr);
    else if (!n)
        puts("policies are identical (same canonical form)");
    json_object_put(arr);
    return n ? CTL_EXIT_FAIL : CTL_EXIT_OK;
}

int ctl_policy_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"capture", ctl_policy_capture},
        {"predict", ctl_policy_predict},
        {"sign", cmd_sign},
        {"verify", cmd_verify},
        {"show", cmd_show},
        {"diff", cmd_diff},
        {"explain", ctl_policy_explain},
        {"image-digest", ctl_policy_image_digest},
        {"publish", ctl_policy_publish},
        {"activate", ctl_policy_activate},
        {"list", ctl_policy_list},
        {"what-if", ctl_policy_what_if},
        {"propose", ctl_policy_propose},
    };
    if (argc < 2)
        return usage(stderr), CTL_EXIT_USAGE;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        return usage(stdout), CTL_EXIT_OK;
    for (size_t i = 0; i < ELEMENTSOF(cmds); i++)
        if (!strcmp(argv[1], cmds[i].name)) {
            optind = 1;
            return cmds[i].fn(argc - 1, argv + 1);
        }
    return ctl_usage_error("policy", "unknown policy command '%s'", argv[1]);
}
