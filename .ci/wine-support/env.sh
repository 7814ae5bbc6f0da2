# Sourced by .ci/wine-setup, .ci/wine-exec and .ci/wine: where Wine is and which
# prefix our tests use, so that they agree.
#
#   wine_bin     the 64-bit Wine loader: $WINE if set, else wine64 on PATH,
#                else Debian's /usr/lib/wine/wine64 (the wine64 package puts
#                it there; /usr/bin/wine64 comes only with the `wine` package,
#                which pulls in the 32-bit side and X libraries we don't need).
#   wine_server  its wineserver, to wait for the prefix to settle.
#   wine_prefix  $WINEPREFIX if set, else a prefix of our own in the cache,
#                never the user's ~/.wine.

wine_bin() {
	if [[ -n "${WINE:-}" ]]; then
		echo "$WINE"
	elif command -v wine64 2>/dev/null; then
		:
	else
		echo /usr/lib/wine/wine64
	fi
}

wine_server() {
	local bin
	bin=$(wine_bin)
	if [[ -x "$(dirname "$bin")/wineserver64" ]]; then
		echo "$(dirname "$bin")/wineserver64"
	elif [[ -x "$(dirname "$bin")/wineserver" ]]; then
		echo "$(dirname "$bin")/wineserver"
	else
		command -v wineserver
	fi
}

wine_prefix() {
	echo "${WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-rsync/wine}"
}

# Quiet (no fixme/err chatter in test output), and no Mono, Gecko or menu
# entries: a prefix for console programs only.
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml,winemenubuilder.exe="
