#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Regenerates the seed corpora of fuzz_attest and fuzz_tpmpub from a real
# swtpm and tpm2-tools: AK/EK publics (TPM2B, TPMT, PEM), quotes with their
# signatures (ECC and RSA AKs), and tpm2_quote -o PCR files.
#   tests/fuzz/make-corpus-quote.sh   (run from anywhere; needs swtpm, tpm2-tools)
src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/harness.sh
. "$src/tests/lib/harness.sh"
start_swtpm
cd "$WORK"
flush() { tpm2_flushcontext -t >/dev/null; }
ca="$src/tests/fuzz/corpus/fuzz_attest"
cp="$src/tests/fuzz/corpus/fuzz_tpmpub"
mkdir -p "$ca" "$cp"

# attest corpus entry: u16 LE attest length || attest || signature
pack() { python3 - "$1" "$2" "$3" <<'PY'
import sys, struct
a = open(sys.argv[1], 'rb').read(); s = open(sys.argv[2], 'rb').read()
open(sys.argv[3], 'wb').write(struct.pack('<H', len(a)) + a + s)
PY
}

for ek in rsa ecc; do
    tpm2_createek -c ek.ctx -G $ek -u ek_$ek.pub >/dev/null; flush
    cp ek_$ek.pub "$cp/ek_$ek.tpm2b"
done
tpm2_createek -c ek.ctx -G rsa >/dev/null; flush
for alg in ecc rsa; do
    sch=$([ $alg = ecc ] && echo ecdsa || echo rsassa)
    tpm2_createak -C ek.ctx -c ak.ctx -G $alg -g sha256 -s $sch -u ak.pub >/dev/null; flush
    cp ak.pub "$cp/ak_$alg.tpm2b"
    tail -c +3 ak.pub >"$cp/ak_$alg.tpmt"
    tpm2_readpublic -c ak.ctx -f pem -o "$cp/ak_$alg.pem" >/dev/null; flush
    for sel in sha256:0,1,2,3,4,5,6,7,8,9,10,11 sha1:0,7+sha256:0,7; do
        tag=$(echo "$sel" | tr -c 'a-z0-9\n' _)
        tpm2_quote -c ak.ctx -l "$sel" -q "$(openssl rand -hex 32)" -m q.msg -s q.sig -o q.pcrs \
            -g sha256 >/dev/null; flush
        pack q.msg q.sig "$ca/quote_${alg}_$tag"
        cp q.pcrs "$ca/pcrs_${alg}_$tag"
    done
    # RSAPSS signature from an RSA AK created with that scheme
    if [ $alg = rsa ]; then
        tpm2_createak -C ek.ctx -c pss.ctx -G rsa -g sha256 -s rsapss -u pss.pub >/dev/null; flush
        cp pss.pub "$cp/ak_rsapss.tpm2b"
        tpm2_quote -c pss.ctx -l sha256:0,1,2 -q 0102030405060708 -m q.msg -s q.sig -g sha256 --scheme rsapss \
            >/dev/null; flush
        pack q.msg q.sig "$ca/quote_rsapss"
    fi
done
echo "corpus written to $ca and $cp"
