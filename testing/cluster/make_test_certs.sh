#!/usr/bin/env bash
# Makes the certificates the TLS cluster tests use, with the openssl command
# line (and Debian's faketime for one that expired), in DIR:
#   client-ca, peer-ca, other-ca        three CAs
#   server                               the nodes' client-port certificate
#                                        (DNS:127.0.0.1, DNS:localhost)
#   peer-N (N = 1 to 5)                  peer certificates: CN and DNS node-N
#   alice, writer, dashboard, mallory    client certificates from client-ca
#   alice-other                          "alice" from other-ca
#   alice-expired                        "alice", expired since 2020
# Usage: make_test_certs.sh DIR
set -euo pipefail
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() {
  key "$1"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "/CN=$1" 2>/dev/null
}
# cert NAME CA COMMON_NAME SUBJECT_ALT_NAMES
cert() {
  key "$1"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf 'subjectAltName=%s\n' "$4" >"$1.ext"
  ${FAKE:-} openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" \
    -CAcreateserial -out "$1.pem" -days "${DAYS:-30}" -extfile "$1.ext" 2>/dev/null
}
ca client-ca
ca peer-ca
ca other-ca
cert server client-ca raftkv DNS:127.0.0.1,DNS:localhost
for n in 1 2 3 4 5; do cert "peer-$n" peer-ca "node-$n" "DNS:node-$n"; done
for who in alice writer dashboard mallory; do cert "$who" client-ca "$who" "DNS:$who"; done
cert alice-other other-ca alice DNS:alice
FAKE="faketime 2020-01-01" DAYS=1 cert alice-expired client-ca alice DNS:alice
