#!/bin/sh
# SPDX-License-Identifier: ISC
# make run / make stop: placeholder until kpool-server and kpoolfs land.
case ${1:-} in
start)
	echo "kpool: the library is built under build/."
	echo "kpool-server and kpoolfs are not built yet; make run will start"
	echo "a local server and mount a demo pool at ./mnt once they are."
	;;
stop)
	echo "kpool: nothing to stop"
	;;
esac
