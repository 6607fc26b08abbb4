# TLS material for the local brokers' secured listeners (tests and laptop trials only):
# a private CA, a server certificate for localhost / 127.0.0.1 signed by it, and a client
# certificate for mutual TLS. Sourced, not run. Needs openssl.
# shellcheck shell=bash

# tls_ensure DIR CN: create DIR/{ca,server,client}.{pem,key} unless they are there and the
# server certificate is valid for another day; prints nothing when nothing changed.
# The keys are unencrypted (a throwaway local CA); DIR/ca.key never leaves DIR.
tls_ensure() {
  local dir="$1" cn="$2" days=3650
  mkdir -p "$dir"
  if [[ -s "$dir/ca.pem" && -s "$dir/server.pem" && -s "$dir/server.key" && -s "$dir/client.pem" \
    && -s "$dir/client.key" ]] && openssl x509 -checkend 86400 -noout -in "$dir/server.pem" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null || { echo "tls: openssl not found" >&2; return 1; }
  echo "tls: generating a local CA and certificates in $dir"
  local tmp
  tmp="$(mktemp -d "$dir/.gen.XXXXXX")"
  (
    set -e
    cd "$tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" -subj "/CN=$cn local CA" \
      -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "extendedKeyUsage=serverAuth" \
      "basicConstraints=CA:FALSE" >server.ext
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" -keyout server.key \
      -out server.csr 2>/dev/null
    openssl x509 -req -sha256 -days "$days" -in server.csr -CA ca.pem -CAkey ca.key \
      -CAcreateserial -extfile server.ext -out server.pem 2>/dev/null
    printf '%s\n' "extendedKeyUsage=clientAuth" "basicConstraints=CA:FALSE" >client.ext
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=rankstream-client" \
      -keyout client.key -out client.csr 2>/dev/null
    openssl x509 -req -sha256 -days "$days" -in client.csr -CA ca.pem -CAkey ca.key \
      -CAcreateserial -extfile client.ext -out client.pem 2>/dev/null
    rm -f ./*.csr ./*.ext ./*.srl
  ) || { rm -rf "$tmp"; echo "tls: openssl failed" >&2; return 1; }
  mv -f "$tmp"/* "$dir"/
  rm -rf "$tmp"
}
