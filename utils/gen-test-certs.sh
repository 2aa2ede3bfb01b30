#!/bin/sh
# Generate the certificates used by the TLS test modes.
#
#   ca.{crt,key}        self-signed CA
#   server.{crt,key}    server certificate, usable as a client certificate too (replication)
#   client.{crt,key}    certificate restricted to TLS client use
#   redis.{crt,key}     certificate with no usage restriction (both roles)
#
# Usage: utils/gen-test-certs.sh [OUTDIR]     (default: tests/tls under the repo root)
#
# Safe to run from several test processes at once: an flock on OUTDIR/.lock serialises runs,
# the set is regenerated only when a file is missing, and every file is generated in a private
# directory and then renamed into place, so a reader never sees a half-written file. Existing
# complete sets are left alone (pass FORCE=1 in the environment to regenerate).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/../tests/tls"}
files="ca.crt ca.key server.crt server.key client.crt client.key redis.crt redis.key"

have_all_certs() {
    for f in $files; do
        [ -s "$out/$f" ] || return 1
    done
    return 0
}

if [ "${FORCE:-0}" != 1 ] && have_all_certs; then
    exit 0
fi

# A fresh machine may not have the openssl command yet.
if ! command -v openssl >/dev/null 2>&1; then
    "$here/install-deps.sh"
fi

mkdir -p "$out"
exec 9>"$out/.lock"
if command -v flock >/dev/null 2>&1; then
    flock -w 120 9
fi
# Another process may have finished the job while this one waited for the lock.
if [ "${FORCE:-0}" != 1 ] && have_all_certs; then
    exit 0
fi

tmp=$(mktemp -d "$out/.gen.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

cat >"$tmp/openssl.cnf" <<'EOF'
[ server_cert ]
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = @alt_names
nsComment = "keyloom test server certificate"

[ client_cert ]
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
nsComment = "keyloom test client certificate"

[ any_cert ]
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = @alt_names

[ alt_names ]
DNS.1 = localhost
IP.1 = 127.0.0.1
IP.2 = ::1
EOF

q() { "$@" >/dev/null 2>&1 || { echo "gen-test-certs: failed: $*" >&2; "$@"; exit 1; }; }

q openssl genrsa -out "$tmp/ca.key" 2048
q openssl req -x509 -new -nodes -sha256 -key "$tmp/ca.key" -days 3650 \
    -subj '/O=keyloom test/CN=Certificate Authority' -out "$tmp/ca.crt"

gen() {
    name=$1
    cn=$2
    ext=$3
    q openssl genrsa -out "$tmp/$name.key" 2048
    q openssl req -new -sha256 -subj "/O=keyloom test/CN=$cn" -key "$tmp/$name.key" \
        -out "$tmp/$name.csr"
    q openssl x509 -req -sha256 -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
        -CAserial "$tmp/ca.srl" -days 3650 -extfile "$tmp/openssl.cnf" -extensions "$ext" \
        -in "$tmp/$name.csr" -out "$tmp/$name.crt"
}

gen server "Server" server_cert
gen client "Client-only" client_cert
gen redis "Generic-cert" any_cert

chmod 644 "$tmp"/*.crt "$tmp"/*.key
# Keys first, the CA certificate last: each rename is atomic, and a set counts as complete only
# when every file exists.
for f in server.key client.key redis.key ca.key server.crt client.crt redis.crt ca.crt; do
    mv -f "$tmp/$f" "$out/$f"
done
