#!/usr/bin/env bash
# A throwaway MariaDB for the MySQL-backed tests, on 127.0.0.1 only.
#   tests/services/mariadb.sh start DIR        installs mariadb-server if missing (apt-get), starts it
#                                              on a free port, written to DIR/port
#   tests/services/mariadb.sh stop DIR         stops it and removes DIR
# The test user `mlops` (password in $MLOPS_TEST_MYSQL_PASSWORD) may create databases.
set -euo pipefail
command=$1 dir=$2
PATH=$PATH:/usr/sbin:/usr/bin

case $command in
start)
  if ! command -v mariadbd >/dev/null; then
    echo "mariadb-server is missing: installing it with apt-get"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
  fi
  [ -f "$dir/mariadbd.pid" ] && "$0" stop "$dir"
  rm -rf "$dir" && mkdir -p "$dir"
  while :; do  # a free port: nothing answers on it
    port=$((20000 + RANDOM % 20000))
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  echo "$port" >"$dir/port"
  as_root=(); [ "$(id -u)" -eq 0 ] && as_root=(--user=root)  # mariadbd refuses to run as root otherwise
  mariadb-install-db --no-defaults --datadir="$dir/data" "${as_root[@]}" \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  mariadbd --no-defaults --datadir="$dir/data" --bind-address=127.0.0.1 --port="$port" \
    --socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" "${as_root[@]}" \
    --skip-log-bin --innodb-buffer-pool-size=64M --max-connections=200 >"$dir/server.log" 2>&1 &
  for _ in $(seq 60); do
    mariadb-admin --no-defaults --socket="$dir/mariadbd.sock" -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  password=${MLOPS_TEST_MYSQL_PASSWORD:?}
  password=${password//\\/\\\\}; password=${password//\'/\\\'}  # a SQL string literal: \ and ' escaped
  mariadb --no-defaults --default-character-set=utf8mb4 --socket="$dir/mariadbd.sock" -uroot -e "
    CREATE USER 'mlops'@'127.0.0.1' IDENTIFIED BY '$password';
    GRANT ALL PRIVILEGES ON *.* TO 'mlops'@'127.0.0.1';" \
    || { echo "MariaDB did not start; see $dir/server.log" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
  echo "MariaDB $(mariadbd --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)"
  ;;
stop)
  if [ -f "$dir/mariadbd.pid" ]; then
    pid=$(cat "$dir/mariadbd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start DIR | stop DIR" >&2; exit 2 ;;
esac
