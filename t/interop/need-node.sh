# SPDX-License-Identifier: ISC
#
# need-node.sh: sourced by the t/05*.t interop tests after t/tap.sh.  make
# check installs node, npm and t/interop/node_modules (mk/interop-deps.sh),
# so their absence is a failure (bail), not a skip.  Sets INTEROP.

INTEROP=$KP_TOP/t/interop
command -v node >/dev/null 2>&1 || bail "node missing (make deps installs it)"
_v=$(node -p 'process.versions.node' 2>/dev/null)
case $_v in
[0-9]*) ;;
*) bail "node does not run" ;;
esac
# ts-mls 1.6.4 and @noble/ciphers 2.1.1 need node >= 20.19.
_maj=${_v%%.*}; _min=${_v#*.}; _min=${_min%%.*}
if [ "$_maj" -lt 20 ] || { [ "$_maj" -eq 20 ] && [ "$_min" -lt 19 ]; }; then
	bail "node $_v is too old: ts-mls needs node >= 20.19"
fi
[ -f "$INTEROP/node_modules/ts-mls/package.json" ] ||
    bail "t/interop/node_modules missing (run sh mk/interop-deps.sh)"

# exits STATUS DESC CMD...: CMD must exit with exactly STATUS; its output
# is shown when it does not.
exits() {
	_w=$1; _d=$2; shift 2
	"$@" >"$TMP/.out" 2>&1
	_r=$?
	is "$_r" "$_w" "$_d" || sed 's/^/#   /' "$TMP/.out"
}
