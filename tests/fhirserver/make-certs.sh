#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Make the TLS and SMART material for the FHIR test server in DIR:
#   ca.pem ca.key                     test CA (trusted by the tests)
#   server.pem server.key             server cert for 127.0.0.1 and localhost, signed by ca
#   client.pem client.key             client cert signed by ca (mtls)
#   untrusted-ca.pem                  a second CA nobody trusts
#   untrusted-server.pem .key         server cert signed by the untrusted CA
#   smart-rsa.key smart-ec.key        private keys for SMART client assertions (RS384, ES384)
#   jwks.json                         public JWKS with both keys (kid smart-rsa, smart-ec)
# Usage: make-certs.sh DIR
set -eu
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
days=2
subj() { printf '/O=fhirgen test/CN=%s' "$1"; }

ca() { # name
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
        -keyout "$1.key" -out "$1.pem" -subj "$(subj "$1")" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}

leaf() { # name ca usage san
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$(subj "$1")" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' "$3" > "$1.ext"
    if [ -n "$4" ]; then printf 'subjectAltName=%s\n' "$4" >> "$1.ext"; fi
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days "$days" \
        -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}

ca ca
leaf server ca serverAuth 'IP:127.0.0.1,DNS:localhost'
leaf client ca clientAuth ''
ca untrusted-ca
leaf untrusted-server untrusted-ca serverAuth 'IP:127.0.0.1,DNS:localhost'
rm -f ./*.srl

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out smart-rsa.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out smart-ec.key 2>/dev/null
chmod 600 ./*.key

# JWKS from the public halves (node's crypto exports JWK).
node -e '
const crypto = require("crypto"), fs = require("fs");
const keys = [["smart-rsa", "RS384"], ["smart-ec", "ES384"]].map(([kid, alg]) => {
  const jwk = crypto.createPublicKey(fs.readFileSync(kid + ".key")).export({ format: "jwk" });
  return { ...jwk, kid, alg, use: "sig" };
});
fs.writeFileSync("jwks.json", JSON.stringify({ keys }, null, 2) + "\n");
'
echo "certificates and keys in $dir"
