#!/bin/sh
# SPDX-License-Identifier: ISC
# 9004-deploy-nginx: the nginx configuration docs/deploy.md shows for
# instances behind a reverse proxy is one nginx accepts: nginx -t on
# it, its certificate and log paths moved into $TMP (a fresh
# self-signed certificate), nothing else changed.
. "${KP_TOP:-.}/t/tap.sh"

plan 3
if ! command -v nginx >/dev/null 2>&1; then
	bail "nginx is missing (mk/deps.sh installs it)"
fi
sed -n '/^```nginx$/,/^```$/p' "$KP_TOP/docs/deploy.md" | sed '1d;$d' \
    >"$TMP/doc.conf"
like "$(grep -c upstream "$TMP/doc.conf")" "^[1-9]" \
    "docs/deploy.md shows an nginx configuration with an upstream"
ok "a self-signed certificate for the test" openssl req -x509 \
    -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=kpool.example.org -keyout "$TMP/privkey.pem" \
    -out "$TMP/fullchain.pem"
sed -e "s|/etc/ssl/kpool/|$TMP/|g" -e "s|/var/log/nginx/|$TMP/|g" \
    "$TMP/doc.conf" >"$TMP/nginx.conf"
ok "nginx -t accepts it" nginx -t -q -p "$TMP" -e "$TMP/error.log" \
    -c "$TMP/nginx.conf"
