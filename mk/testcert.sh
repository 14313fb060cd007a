#!/bin/sh
# SPDX-License-Identifier: ISC
#
# testcert.sh DIR: the certificates of the TLS tests and benchmarks, made
# with openssl in DIR: a test CA (ca.pem, ca.key), a server certificate
# for localhost and 127.0.0.1 that it signed (server.pem, its key
# server.key, mode 0600), and another CA that signed nothing
# (other-ca.pem).  ECDSA P-256, valid 2 days.  openssl's messages go to
# DIR/openssl.log; exit 1 when a step fails.
set -eu
d=$1
mkdir -p "$d"
for n in ca other-ca; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -keyout "$d/$n.key" -out "$d/$n.pem" -days 2 \
	    -subj "/CN=kpool test $n" 2>>"$d/openssl.log"
done
printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' \
    >"$d/server.ext"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$d/server.key" -out "$d/server.csr" -subj /CN=localhost \
    2>>"$d/openssl.log"
openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
    -set_serial 2 -days 2 -extfile "$d/server.ext" -out "$d/server.pem" \
    2>>"$d/openssl.log"
chmod 600 "$d/server.key"
