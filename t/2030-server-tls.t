#!/bin/sh
# SPDX-License-Identifier: ISC
# 2030-server-tls: kpool-server serving HTTPS (--tls-cert, --tls-key)
# with a CA and a certificate for 127.0.0.1 made by the test.  Start-up
# refusals exit 2 with their message: a certificate without its key
# (on the command line and in --config), a key file others may read, a
# key that is not the certificate's, a file missing.  Over TLS:
# /healthz answers, a client that does not trust the CA is refused,
# TLS 1.1 is refused while 1.2 and 1.3 are served, plain HTTP on the
# port is answered 400 https_required; the framing cases are refused
# with 400 bad_framing (JSON) as in plain HTTP, and the heads that only
# the plain front catches get what docs/security.md ("TLS") says;
# the per-address limit holds (the connection over it is closed, and
# counted); the deadline cuts a handshake never made and a head
# trickled after it.
. "${KP_TOP:-.}/t/tap.sh"

plan 47

S=$KP_BUILD/kpool-server
C=$TMP/certs
make_certs "$C"

# srv ARGS...: run kpool-server with ARGS on a database of its own,
# for the start-up refusals; its stderr in ERR, its status in RC.
srv() {
	timeout 10 "$S" --listen 127.0.0.1:0 --db "$TMP/refused.db" "$@" \
	    >/dev/null 2>"$TMP/err"
	RC=$?
	ERR=$(cat "$TMP/err")
}

srv --tls-cert "$C/server.pem"
is "$RC" 2 "--tls-cert without --tls-key exits 2"
like "$ERR" 'tls-cert and --tls-key go together' "and says why"
srv --tls-key "$C/server.key"
is "$RC" 2 "--tls-key without --tls-cert exits 2"
printf 'tls-cert = %s\n' "$C/server.pem" >"$TMP/half.conf"
srv --config "$TMP/half.conf"
is "$RC" 2 "a --config with tls-cert alone exits 2"
cp "$C/server.key" "$TMP/open.key"
chmod 644 "$TMP/open.key"
srv --tls-cert "$C/server.pem" --tls-key "$TMP/open.key"
is "$RC" 2 "a key file others may read exits 2"
like "$ERR" 'open.key: other users may read or write it \(mode 644\)' \
    "naming the file and its mode"
srv --tls-cert "$C/server.pem" --tls-key "$C/ca.key"
is "$RC" 2 "a key that is not the certificate's exits 2"
like "$ERR" 'is not the key of the certificate' "and says so"
srv --tls-cert "$C/none.pem" --tls-key "$C/server.key"
is "$RC" 2 "a missing certificate file exits 2"
like "$ERR" 'none.pem: No such file or directory' "naming it"
srv --tls-cert "$C/server.key" --tls-key "$C/server.key"
is "$RC" 2 "a certificate file without a certificate exits 2"
ok "no database was made by the refusals" test ! -e "$TMP/refused.db"

printf 'tls-cert = %s\ntls-key = %s\n' "$C/server.pem" "$C/server.key" \
    >"$TMP/tls.conf"
start_server --config "$TMP/tls.conf" --public-metrics --quiet \
    --max-connections-per-address 4
P=$SERVER_PORT
U=https://127.0.0.1:$P

# get PATH [CURL-ARGS...]: the body of GET PATH over TLS from 127.0.0.2
# (apart from the connections held from 127.0.0.1), trusting the CA.
get() {
	_p=$1; shift
	curl -sS --interface 127.0.0.2 --cacert "$C/ca.pem" "$@" "$U$_p"
}

# metric NAME: its value in /metrics.
metric() {
	get /metrics | awk -v n="$1" '$1 == n { print $2 }'
}

is "$(get /healthz)" '{"status":"ok"}' "/healthz over TLS"
is "$(curl -sS --cacert "$C/ca.pem" "https://localhost:$P/healthz")" \
    '{"status":"ok"}' "the certificate's name localhost verifies too"
curl -sS --cacert "$C/other-ca.pem" "$U/healthz" >/dev/null 2>"$TMP/err"
is "$?" 60 "a client trusting another CA refuses the server (curl 60)"
like "$(cat "$TMP/err")" 'certificate' "for its certificate"
is "$(curl -sS -o "$TMP/body" -w '%{http_code}' \
    "http://127.0.0.1:$P/healthz"):$(cat "$TMP/body")" \
    '400:{"error":"https_required","message":"this port speaks HTTPS: use an https:// URL"}' \
    "plain HTTP on the TLS port: 400 https_required, in plain HTTP"

# hs ARGS...: "PROTOCOL CIPHER" of a handshake made with s_client's
# ARGS, "(NONE) (NONE)" when the server refuses it.
hs() {
	openssl s_client -connect "127.0.0.1:$P" -CAfile "$C/ca.pem" \
	    -verify_return_error "$@" </dev/null 2>/dev/null |
	    sed -n 's/^New, \([^,]*\), Cipher is \(.*\)/\1 \2/p'
}
is "$(hs -tls1_3)" "TLSv1.3 TLS_AES_128_GCM_SHA256" "TLS 1.3 is served"
is "$(hs -tls1_2)" "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256" \
    "TLS 1.2 is served, with an AEAD cipher and forward secrecy"
is "$(hs -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')" "(NONE) (NONE)" \
    "TLS 1.1 is refused"
is "$(hs -tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0')" \
    "(NONE) (NONE)" "TLS 1.2 with a CBC cipher is refused"

# tls REQUEST: the first line and the body of the answer to REQUEST
# (printf's format) sent over TLS, as "STATUS-LINE|BODY"; "" for none.
tls() {
	printf "$1" | timeout 10 openssl s_client -connect "127.0.0.1:$P" \
	    -CAfile "$C/ca.pem" -verify_return_error -quiet 2>/dev/null |
	    tr -d '\r' | sed -n '1p;$p' | paste -sd '|'
}

POST='POST /keypackages/reserve HTTP/1.1\r\nHost: x\r\n'
J='HTTP/1.1 400 Bad Request|{"error":"bad_framing","message":'
# the framing cases, one a line: the head's fields after $POST (printf's
# format), then what the test says of it; each is answered 400
# bad_framing (the message's text left out)
while IFS='|' read -r fields what; do
	is "$(tls "$POST$fields" | sed 's/"message":.*/"message":/')" "$J" \
	    "over TLS, $what: 400 bad_framing"
done <<'EOF'
Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}}|two different Content-Length
Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}|two equal Content-Length
Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n|Transfer-Encoding: xchunked
Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n|Transfer-Encoding: gzip, chunked
Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n|two Transfer-Encoding
Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n|both Content-Length and Transfer-Encoding
Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n|whitespace before a colon
EOF
is "$(tls "${POST}Content-Length: 1048577\r\n\r\n")" \
    'HTTP/1.1 413 Content Too Large|{"error":"too_big","message":"the body is larger than 1048576 bytes"}' \
    "Content-Length over 1 MiB: 413 too_big"
is "$(tls "${POST}Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n" |
    cut -c1-13)" 'HTTP/1.1 401 ' \
    "good framing (Transfer-Encoding: Chunked) reaches the signature check"
# what libmicrohttpd answers itself under TLS (docs/security.md, "TLS")
like "$(tls "${POST}Content-Length: 2, 2\r\n\r\n{}")" \
    '^HTTP/1.1 400 Bad Request\|<html>' \
    "documented: Content-Length: 2, 2 gets libmicrohttpd's 400, in HTML"
like "$(tls "${POST}Content-Length: 99999999999999999999\r\n\r\n")" \
    '^HTTP/1.1 413 Content Too Large\|<html>' \
    "documented: a Content-Length of 20 digits gets its 413, in HTML"
is "$(tls 'GARBAGE\r\n\r\n')" "" \
    "documented: a request line without a space is closed unanswered"
like "$(tls 'GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n')" \
    '^HTTP/1.1 505 HTTP Version Not Supported\|<html>' \
    "documented: HTTP/2.0 gets its 505, in HTML"
like "$(tls 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n')" \
    '^HTTP/1.1 400 Bad Request\|<html>' \
    "documented: a header line without a colon gets its 400, in HTML"
is "$(tls 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\nConnection: close\r\n\r\n')" \
    'HTTP/1.1 200 OK|{"status":"ok"}' \
    "documented: a folded line is joined, the request served"
big=$(head -c 40000 /dev/zero | tr '\0' a)
like "$(tls "GET /healthz HTTP/1.1\r\nX-A: $big\r\n\r\n")" \
    '^HTTP/1.1 431 Request Header Fields Too Large\|<html>' \
    "documented: header fields of 40 KB get its 431, in HTML"
is "$(metric 'kpool_connections_refused_total{reason="framing"}')" 7 \
    "the 7 framing refusals counted"

# the per-address limit: 4 connections held from 127.0.0.1, a fifth
# closed before its handshake
held=
for i in 1 2 3 4; do
	# -quiet: -ign_eof, so the connection stays until it is killed
	openssl s_client -connect "127.0.0.1:$P" -CAfile "$C/ca.pem" \
	    -quiet </dev/null >/dev/null 2>&1 &
	held="$held $!"
done
i=0
while [ "$(metric kpool_connections_open)" -lt 5 ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "$(metric kpool_connections_open)" 5 \
    "4 TLS connections held from 127.0.0.1 (and this one)"
is "$(tls 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')" \
    "" "a fifth from 127.0.0.1 is closed without an answer"
is "$(metric 'kpool_connections_refused_total{reason="per_address"}')" 1 \
    "and counted as refused per_address"
is "$(get /healthz)" '{"status":"ok"}' "another address is served meanwhile"
kill $held 2>/dev/null
wait $held 2>/dev/null
i=0
while [ "$(metric kpool_connections_open)" -gt 1 ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
is "$(tls 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')" \
    'HTTP/1.1 200 OK|{"status":"ok"}' \
    "once they close, 127.0.0.1 is served again"
stop_server

# the deadline: a TCP connection that never starts its handshake, and
# a head trickled after one, are cut 2 s after they opened
db_new deadline
SERVER_DB=$DB
start_server --tls-cert "$C/server.pem" --tls-key "$C/server.key" \
    --public-metrics --quiet --request-deadline 2
P=$SERVER_PORT
U=https://127.0.0.1:$P
is "$(perl -MIO::Socket::INET -MTime::HiRes=time -e '
    my $s = IO::Socket::INET->new("127.0.0.1:$ARGV[0]") or die;
    my $t = time; my $n = sysread($s, my $b, 64);
    printf "%d %d\n", $n, time - $t < 4 ? 1 : 0' "$P")" "0 1" \
    "a connection that sends nothing is closed at the deadline, unanswered"
out=$( (printf 'GET /healthz HTTP/1.1\r\n'; sleep 1; printf 'X-A: 1\r\n';
    sleep 1; printf 'X-B: 1\r\n'; sleep 1; printf 'X-C: 1\r\n'; sleep 2) |
    timeout 10 openssl s_client -connect "127.0.0.1:$P" -CAfile \
    "$C/ca.pem" -quiet 2>/dev/null)
is "$out" "" \
    "a head trickled over TLS is closed at the deadline, without its 408"
is "$(metric 'kpool_connections_refused_total{reason="deadline"}')" 1 \
    "and counted as a deadline refusal"
is "$(metric kpool_connections_idle_closed_total)" 1 \
    "the silent one as an idle close"
