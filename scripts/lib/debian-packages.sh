# Shared by scripts/setup.sh (what building and running the collector needs) and
# scripts/setup-test.sh (what only the tests use). Source it after defining say().

# install_missing HINT PACKAGE...: installs the packages that are not installed, as root; anyone
# else is told which are missing and what to run (HINT), and the script stops.
install_missing() {
  local hint=$1; shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]} — run '$hint' once, or install them"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
