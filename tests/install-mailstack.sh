#!/usr/bin/env bash
# Idempotent installer for the real mail stack the tests run against:
# Postfix (SMTP) delivering over LMTP into Dovecot (IMAP), from Debian packages,
# and systemd's systemd-analyze (tests/test_systemd_unit.py checks the unit with it; it runs
# without systemd being PID 1).
# Quiet on success; prints apt's output only when something fails.
set -euo pipefail

# gir1.2-ical-3.0 + python3-gi: libical's iTIP check of every invitation collabd builds
# (tests/calendar_check.py runs it through the system python3); systemd for
# systemd-analyze, which checks the unit file (nothing is started by it); fonts-noto-cjk
# for the digest's Gantt chart, whose task labels are Chinese (tests assert them; without a
# CJK font the chart keeps only the ASCII of each label, as on a server without it).
PACKAGES=(postfix dovecot-imapd dovecot-lmtpd gir1.2-ical-3.0 python3-gi systemd fonts-noto-cjk)

have_everything() {
    command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || return 1
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || return 1
    command -v systemd-analyze >/dev/null 2>&1 || return 1
    dpkg-query -W -f='${Status}' dovecot-lmtpd 2>/dev/null | grep -q 'install ok installed' \
        || return 1
    dpkg-query -W -f='${Status}' dovecot-imapd 2>/dev/null | grep -q 'install ok installed' \
        || return 1
    dpkg-query -W -f='${Status}' gir1.2-ical-3.0 2>/dev/null | grep -q 'install ok installed' \
        || return 1
    dpkg-query -W -f='${Status}' python3-gi 2>/dev/null | grep -q 'install ok installed' \
        || return 1
    dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'install ok installed' \
        || return 1
}

if have_everything; then
    exit 0
fi

# Run apt as root: directly if we are root, else through sudo if it exists.
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        echo "install-mailstack: need root (or sudo) to install ${PACKAGES[*]}" >&2
        exit 1
    fi
fi

LOG="$(mktemp -t install-mailstack.XXXXXX.log)"
trap 'rm -f "$LOG"' EXIT

run_quietly() {
    if ! "$@" >>"$LOG" 2>&1; then
        echo "install-mailstack: failed: $*" >&2
        tail -n 40 "$LOG" >&2
        exit 1
    fi
}

export DEBIAN_FRONTEND=noninteractive

# "No configuration": the Debian package must not write a main.cf that sends
# mail anywhere; the tests use their own config dir (tests/mailstack.py).
printf '%s\n' \
    "postfix postfix/main_mailer_type select No configuration" \
    "postfix postfix/mailname string collabd.test" \
    | run_quietly "${SUDO[@]}" debconf-set-selections

apt_install() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${PACKAGES[@]}" >>"$LOG" 2>&1
}

# Refresh the package lists only if apt does not know the packages yet, or
# if installing from the lists we have fails (they may be stale).
if ! apt-cache show "${PACKAGES[@]}" >/dev/null 2>&1; then
    run_quietly "${SUDO[@]}" apt-get update -q
fi
if ! apt_install; then
    run_quietly "${SUDO[@]}" apt-get update -q
    # Without systemd a postinst may fail to start its service. We never use
    # the packages' own daemons, so that is no error for us: finish whatever
    # was left half-configured and judge by what is installed.
    apt_install || "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        dpkg --configure -a >>"$LOG" 2>&1 || true
fi

if ! have_everything; then
    echo "install-mailstack: ${PACKAGES[*]} still missing after apt-get install" >&2
    tail -n 40 "$LOG" >&2
    exit 1
fi
